/**
 * A steady closed-loop publish load for tests: `clients` publishers, each sending its next
 * message as soon as the previous one is answered, for `durationMs`. Every answer is recorded.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface Answer {
  readonly client: number;
  /** The client's own sequence number (0, 1, 2, … in the order it sent). */
  readonly seq: number;
  readonly status: number;
  /** The message id of a 2xx answer. */
  readonly id?: string;
  readonly body: string;
  readonly sentAt: number;
}

export interface LoadRun {
  readonly answers: Answer[];
  /** Longest event-loop delay seen in this process during the run, in ms. */
  readonly maxEventLoopDelayMs: number;
}

export async function closedLoop(options: {
  url: string;
  topic: string;
  key: string;
  clients: number;
  durationMs: number;
  /** Runs beside the load (e.g. a reload in the middle); the load waits for it too. */
  during?: () => Promise<void>;
}): Promise<LoadRun> {
  const answers: Answer[] = [];
  const stopAt = Date.now() + options.durationMs;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();

  async function client(index: number): Promise<void> {
    for (let seq = 0; Date.now() < stopAt; seq++) {
      const sentAt = Date.now();
      try {
        const response = await fetch(`${options.url}/v1/topics/${options.topic}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${options.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ client: index, seq }),
        });
        const body = await response.text();
        const id =
          response.status >= 200 && response.status < 300
            ? (JSON.parse(body) as { id: string }).id
            : undefined;
        answers.push({ client: index, seq, status: response.status, body, sentAt, ...(id ? { id } : {}) });
      } catch (error) {
        answers.push({ client: index, seq, status: 0, body: String(error), sentAt });
      }
    }
  }

  try {
    await Promise.all([
      ...Array.from({ length: options.clients }, (_, i) => client(i)),
      options.during?.() ?? Promise.resolve(),
    ]);
  } finally {
    delay.disable();
  }
  return { answers, maxEventLoopDelayMs: delay.max / 1e6 };
}

/** `count` per status, e.g. { 201: 1630 }. */
export function statusCounts(answers: readonly Answer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const answer of answers) counts[answer.status] = (counts[answer.status] ?? 0) + 1;
  return counts;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
