/**
 * A steady closed-loop publisher: N concurrent clients, each sending its next request when the
 * previous one was answered, every request with its own Message-Id (so every id ever sent is
 * known) and every answer recorded. A client backs off briefly after a failure so a down gateway
 * or broker is not hammered. Requests still unanswered after `clientTimeoutMs` are aborted and
 * counted as hung (the gateway must answer within its publish deadline).
 */
import { randomUUID } from 'node:crypto';

export interface LoadOptions {
  readonly url: () => string;
  readonly topic: string;
  readonly apiKey: string;
  readonly clients: number;
  readonly clientTimeoutMs: number;
  /** Ordering keys used round-robin ('' = no key). Default: four keys and keyless. */
  readonly keys?: readonly string[];
  /** Extra request headers (e.g. Prefer: respond-async). */
  readonly headers?: Record<string, string>;
}

export type Outcome = number | 'error' | 'hung';

export interface LoadResult {
  readonly sent: readonly string[];
  readonly outcomes: ReadonlyMap<string, Outcome>;
  /** Ids answered 2xx. */
  readonly accepted: readonly string[];
  /** Ids not answered 2xx (4xx/5xx, connection errors, hung). */
  readonly notAccepted: readonly string[];
  readonly hung: readonly string[];
  readonly byOutcome: Readonly<Record<string, number>>;
  /** Error answers by status and problem code, e.g. `503 GW_ERR_OUTBOX_FULL` → count. */
  readonly problems: Readonly<Record<string, number>>;
}

export interface Load {
  /** Ids answered 2xx so far. */
  acceptedCount(): number;
  /**
   * Resolves when `count` more 2xx answers (only `status` answers, when given) arrived after the
   * call, or rejects after timeoutMs.
   */
  waitForAccepted(count: number, timeoutMs: number, status?: number): Promise<void>;
  stop(): Promise<LoadResult>;
}

export function startLoad(options: LoadOptions): Load {
  const runId = randomUUID().slice(0, 8);
  const keys = options.keys ?? ['k0', 'k1', 'k2', 'k3', ''];
  const sent: string[] = [];
  const outcomes = new Map<string, Outcome>();
  let accepted = 0;
  const problems: Record<string, number> = {};
  const byStatus = new Map<number, number>();
  let stopped = false;
  let counter = 0;

  async function client(n: number): Promise<void> {
    while (!stopped) {
      const seq = counter++;
      const id = `fault-${runId}-${n}-${seq}`;
      const key = keys[seq % keys.length]!;
      sent.push(id);
      let outcome: Outcome;
      try {
        const response = await fetch(`${options.url()}/v1/topics/${options.topic}/messages`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${options.apiKey}`,
            'content-type': 'application/json',
            'message-id': id,
            ...(key === '' ? {} : { 'message-key': key }),
            ...options.headers,
          },
          body: JSON.stringify({ n, seq }),
          signal: AbortSignal.timeout(options.clientTimeoutMs),
        });
        const body = await response.text();
        outcome = response.status;
        if (outcome >= 400) {
          let code = '?';
          try {
            code = String((JSON.parse(body) as { code?: unknown }).code ?? '?');
          } catch {
            // not problem+json
          }
          problems[`${outcome} ${code}`] = (problems[`${outcome} ${code}`] ?? 0) + 1;
        }
      } catch (error) {
        outcome = (error as Error).name === 'TimeoutError' ? 'hung' : 'error';
      }
      outcomes.set(id, outcome);
      if (typeof outcome === 'number') byStatus.set(outcome, (byStatus.get(outcome) ?? 0) + 1);
      if (typeof outcome === 'number' && outcome >= 200 && outcome < 300) accepted += 1;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const running = Array.from({ length: options.clients }, (_, n) => client(n));
  return {
    acceptedCount: () => accepted,
    async waitForAccepted(count, timeoutMs, status) {
      const counted = () => (status === undefined ? accepted : (byStatus.get(status) ?? 0));
      const target = counted() + count;
      const deadline = Date.now() + timeoutMs;
      while (counted() < target) {
        if (Date.now() > deadline) {
          throw new Error(
            `only ${counted() - target + count} of ${count} requests answered ${status ?? '2xx'} within ${timeoutMs} ms`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
      const byOutcome: Record<string, number> = {};
      for (const outcome of outcomes.values())
        byOutcome[String(outcome)] = (byOutcome[String(outcome)] ?? 0) + 1;
      const ok = (o: Outcome | undefined) => typeof o === 'number' && o >= 200 && o < 300;
      return {
        sent,
        outcomes,
        accepted: sent.filter((id) => ok(outcomes.get(id))),
        notAccepted: sent.filter((id) => !ok(outcomes.get(id))),
        hung: sent.filter((id) => outcomes.get(id) === 'hung'),
        byOutcome,
        problems,
      };
    },
  };
}
