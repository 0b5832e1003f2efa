/**
 * A publish whose body is still being uploaded: the gateway has admitted it (policies stage 1 ran
 * on the headers) and holds it in flight until finish() sends the rest. Lets tests pile up
 * requests in flight without a slow broker.
 */
import http from 'node:http';

export interface HeldRequest {
  /** Sends the rest of the body; resolves with the status and body of the answer. */
  finish(): Promise<{ status: number; body: string }>;
  /** Resolves with the answer, whenever it comes (early refusals too). */
  readonly answer: Promise<{ status: number; body: string }>;
}

export function heldPublish(url: string, topic: string, key: string): HeldRequest {
  const target = new URL(url);
  let req!: http.ClientRequest;
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: 'POST',
        path: `/v1/topics/${topic}/messages`,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
  });
  req.flushHeaders();
  req.write('{"held":');
  return {
    answer,
    finish() {
      req.end('true}');
      return answer;
    },
  };
}

/** Polls `check` every 20 ms until it is true, or fails after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The value of one Prometheus sample (name with labels as printed), or undefined. */
export async function metric(url: string, sample: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}
