/**
 * TESTING.md scenario 11: ten times the sustainable load, tenants of mixed priority. Low priority
 * must be shed first, high priority keep its latency, memory stay bounded, the gateway not crash.
 *
 *   npx tsx bench/overload.ts [--seconds 20] [--connections 16]
 *
 * 1. Measures the sustainable rate: a closed loop of `connections` high-priority callers against
 *    a gateway process on the embedded broker.
 * 2. Offers ten times that rate for `seconds`, open loop (requests are sent on schedule whether or
 *    not earlier ones were answered), a third each from a low-, a normal- and a high-priority tenant.
 * 3. Prints per priority: 2xx, 503 GW_ERR_OVERLOADED, other answers and errors, p50/p99 latency of
 *    the answered ones; the gateway's RSS before and after; whether it still answers /livez.
 * Run it alone on the machine: the gateway and the load generator share the CPU.
 */
import { startGatewayProcess } from '../test/support/gateway-process.js';
import { closedLoop, summarize } from './load.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const seconds = Number(option('seconds', '20'));
const connections = Number(option('connections', '16'));
const PRIORITIES = ['low', 'normal', 'high'] as const;

async function rss(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('pubgate_process_resident_memory_bytes '));
  return line === undefined ? NaN : Number(line.split(' ')[1]) / 2 ** 20;
}

async function main(): Promise<void> {
  const gateway = await startGatewayProcess({
    log: { level: 'warn' },
    brokers: { local: { kind: 'embedded', dir: './data' } },
    routes: [{ topic: '**', target: 'local' }],
    tenants: Object.fromEntries(
      PRIORITIES.map((priority) => [priority, { keys: [`${priority}-key`], topics: ['**'], priority }]),
    ),
  });
  const publish = (priority: string, signal?: AbortSignal) =>
    fetch(`${gateway.url}/v1/topics/bench.overload/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${priority}-key`, 'content-type': 'application/json' },
      body: '{"bench":true}',
      ...(signal ? { signal } : {}),
    });
  try {
    const rssBefore = await rss(gateway.url);
    const sustainable = await closedLoop(
      async () => {
        const response = await publish('high');
        await response.arrayBuffer();
        if (response.status !== 201) throw new Error(String(response.status));
      },
      { concurrency: connections, durationMs: 5_000 },
    );
    const offered = Math.max(1, Math.round(sustainable.perSecond * 10));
    const stats = Object.fromEntries(
      PRIORITIES.map((p) => [p, { ok: 0, shed: 0, other: 0, errors: 0, latencies: [] as number[] }]),
    );
    const pending: Promise<void>[] = [];
    const started = performance.now();
    const total = offered * seconds;
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / offered;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const priority = PRIORITIES[i % 3]!;
      const entry = stats[priority]!;
      const t0 = performance.now();
      pending.push(
        publish(priority, AbortSignal.timeout(30_000)).then(
          async (response) => {
            await response.arrayBuffer();
            if (response.status < 300) entry.ok++;
            else if (response.status === 503) entry.shed++;
            else entry.other++;
            entry.latencies.push(performance.now() - t0);
          },
          () => {
            entry.errors++;
          },
        ),
      );
    }
    await Promise.all(pending);
    const alive = (await fetch(`${gateway.url}/livez`).catch(() => undefined))?.ok === true;
    const rssAfter = await rss(gateway.url);
    console.log(
      `sustainable: ${sustainable.perSecond.toFixed(0)}/s (p99 ${sustainable.p99Ms.toFixed(1)} ms)`,
    );
    console.log(`offered: ${offered}/s for ${seconds} s, priorities mixed evenly\n`);
    console.log('| priority | 2xx | 503 | other | errors | p50 ms | p99 ms |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const p of PRIORITIES) {
      const s = stats[p]!;
      const latency = summarize(s.latencies, 0, 1);
      console.log(
        `| ${p} | ${s.ok} | ${s.shed} | ${s.other} | ${s.errors} | ${latency.p50Ms.toFixed(1)} | ${latency.p99Ms.toFixed(1)} |`,
      );
    }
    console.log(
      `\nRSS before ${rssBefore.toFixed(0)} MiB, after ${rssAfter.toFixed(0)} MiB; /livez ${alive ? 'ok' : 'FAILED'}`,
    );
    const shedLog = gateway.logs.filter((line) => line.includes('GW_ERR_OVERLOADED')).length;
    if (shedLog > 0) console.log(`(${shedLog} shed requests logged)`);
  } finally {
    await gateway.dispose();
  }
}

void main();
