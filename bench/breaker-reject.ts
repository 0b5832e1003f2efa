/**
 * How fast a `degrade: reject` route answers while its target's circuit breaker is open, next to a
 * publish the gateway confirms from its embedded broker — both through the same gateway process,
 * in one run.
 *
 *   npx tsx bench/breaker-reject.ts [--requests 2000]
 *
 * Starts a gateway process on deploy/config/degrade.yaml, stops RabbitMQ (deploy/local), publishes
 * to `reject.*` until the breaker opens, then sends `requests` sequential publishes on one keep-alive
 * connection and times each at the client (loopback, so the time includes the client and the
 * socket, not only the gateway). RabbitMQ is started again at the end. Run it alone on the
 * machine: it stops a shared broker.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker, stopBroker } from '../deploy/local/brokers.js';
import { startGatewayProcess } from '../test/support/gateway-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--requests');
const requests = i >= 0 ? Number(process.argv[i + 1]) : 2000;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, topic: string): Promise<{ status: number; code?: string; micros: number }> {
  const body = '{"bench":true}';
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/v1/topics/${topic}/messages`,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: 'Bearer dev-key',
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const micros = Number(process.hrtime.bigint() - started) / 1000;
          const text = Buffer.concat(chunks).toString('utf8');
          const code = (JSON.parse(text) as { code?: string }).code;
          resolve({ status: res.statusCode ?? 0, ...(code === undefined ? {} : { code }), micros });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function series(url: string, topic: string, expect: (r: { status: number; code?: string }) => boolean) {
  const micros: number[] = [];
  let other = 0;
  for (let n = 0; n < requests; n++) {
    const r = await post(url, topic);
    if (expect(r)) micros.push(r.micros);
    else other++;
  }
  micros.sort((a, b) => a - b);
  return {
    n: micros.length,
    other,
    p50: percentile(micros, 50),
    p99: percentile(micros, 99),
    max: micros.at(-1) ?? NaN,
  };
}

const yamlText = readFileSync(path.join(root, 'deploy/config/degrade.yaml'), 'utf8');
const gateway = await startGatewayProcess({}, { yamlText });
try {
  await stopBroker('rabbitmq');
  try {
    let open = false;
    for (let n = 0; n < 200 && !open; n++) {
      open = (await post(gateway.url, 'reject.bench')).code === 'GW_ERR_BREAKER_OPEN';
    }
    if (!open) throw new Error('the breaker did not open');
    const rejected = await series(gateway.url, 'reject.bench', (r) => r.code === 'GW_ERR_BREAKER_OPEN');
    // The gateway's own time for each of them, from its access log (request in → answer written).
    const serverMs = gateway.logs
      .flatMap((line) => {
        try {
          const entry = JSON.parse(line) as { code?: string; durationMs?: number };
          return entry.code === 'GW_ERR_BREAKER_OPEN' && entry.durationMs !== undefined
            ? [entry.durationMs]
            : [];
        } catch {
          return [];
        }
      })
      .sort((a, b) => a - b);
    const confirmed = await series(gateway.url, 'local.bench', (r) => r.status === 201);
    const row = (name: string, s: typeof rejected) =>
      `| ${name} | ${s.n} | ${s.p50.toFixed(0)} | ${s.p99.toFixed(0)} | ${s.max.toFixed(0)} | ${s.other} |`;
    process.stdout.write(
      [
        `# Breaker-open reject latency (${new Date().toISOString()})`,
        '',
        `${requests} sequential requests each, one keep-alive connection, timed at the client (µs).`,
        '',
        '| request | answers | p50 µs | p99 µs | max µs | other answers |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
        row('reject.* with the breaker open (503 GW_ERR_BREAKER_OPEN)', rejected),
        row('local.* confirmed by the embedded broker (201)', confirmed),
        '',
        `Inside the gateway (access log durationMs) for the last ${serverMs.length} rejects: p50 ${(
          percentile(serverMs, 50) * 1000
        ).toFixed(0)} µs, p99 ${(percentile(serverMs, 99) * 1000).toFixed(0)} µs.`,
        '',
      ].join('\n'),
    );
  } finally {
    await startBroker('rabbitmq');
  }
} finally {
  await gateway.dispose();
  agent.destroy();
}
