/**
 * Publish throughput and latency through the gateway next to the same broker's own client at the
 * same durability, per broker, in one run; written to bench/results/report.md.
 *
 *   npm run bench -- [--brokers embedded,kafka,rabbitmq,rocketmq] [--seconds 10] [--connections 32] [--size 256]
 *
 * The gateway runs as its own process (as in production); the load generator (autocannon) and the
 * direct client run in this process. Both sides see the same concurrency and message size. On a
 * 2-core machine the gateway, the broker and the load generator share the CPU: compare ratios
 * within one run, not absolute numbers across machines.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { v7 as uuidv7 } from 'uuid';
import { ensureBrokers } from '../deploy/local/brokers.js';
import { BENCH_TARGETS } from './targets.js';
import { closedLoop, type LoadResult } from './load.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const seconds = Number(option('seconds', '10'));
const connections = Number(option('connections', '32'));
const size = Number(option('size', '256'));
const wanted = option('brokers', BENCH_TARGETS.map((t) => t.name).join(',')).split(',');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function startGateway(config: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const cwd = mkdtempSync(path.join(tmpdir(), 'pubgate-bench-'));
  const child = spawn(
    process.execPath,
    [path.join(root, 'dist/gateway/main.js'), '--config', path.join(root, config)],
    {
      cwd,
      env: { ...process.env, PORT: String(port), PUBGATE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { child, url };
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`gateway with ${config} did not become ready`);
}

function throughGateway(url: string, topic: string, body: string, duration: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}/v1/topics/${topic}/messages`,
        method: 'POST',
        connections,
        duration,
        headers: { authorization: 'Bearer dev-key', 'content-type': 'application/json' },
        body,
      },
      (error, result) => {
        if (error) return reject(error);
        const ok = result.requests.total - result.non2xx - result.errors;
        resolve({
          requests: ok,
          errors: result.non2xx + result.errors,
          seconds: result.duration,
          perSecond: ok / result.duration,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
        });
      },
    );
  });
}

interface Row {
  broker: string;
  gateway: LoadResult;
  direct: LoadResult;
}

async function benchOne(name: string): Promise<Row> {
  const target = BENCH_TARGETS.find((t) => t.name === name);
  if (!target)
    throw new Error(`unknown broker ${name}; known: ${BENCH_TARGETS.map((t) => t.name).join(', ')}`);
  if (target.brokers.length > 0)
    await ensureBrokers([...target.brokers] as Parameters<typeof ensureBrokers>[0]);
  const body = JSON.stringify({ pad: 'x'.repeat(Math.max(0, size - 10)) });
  const run = Date.now().toString(36);

  const topic = `bench.gw-${run}`;
  await target.prepare?.(target.destination(topic));
  const gateway = await startGateway(target.config);
  let viaGateway: LoadResult;
  try {
    await throughGateway(gateway.url, topic, body, 2).catch(() => undefined); // warm-up, not reported
    process.stderr.write(`${name}: through the gateway for ${seconds}s ...\n`);
    viaGateway = await throughGateway(gateway.url, topic, body, seconds);
  } finally {
    gateway.child.kill('SIGTERM');
  }

  const direct = target.createDirect();
  await direct.open(target.destination(`bench.direct-${run}`));
  let viaDirect: LoadResult;
  try {
    const payload = Buffer.from(body);
    await closedLoop(() => direct.send(payload, uuidv7()), { concurrency: connections, durationMs: 2_000 });
    process.stderr.write(`${name}: direct client for ${seconds}s ...\n`);
    viaDirect = await closedLoop(() => direct.send(payload, uuidv7()), {
      concurrency: connections,
      durationMs: seconds * 1000,
    });
  } finally {
    await direct.close();
  }
  return { broker: name, gateway: viaGateway, direct: viaDirect };
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

function report(rows: Row[]): string {
  const lines = [
    '# Publish benchmark',
    '',
    `Run ${new Date().toISOString()} on ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
    `${connections} concurrent callers, ${size}-byte JSON messages, ${seconds} s per side after a warm-up.`,
    'Gateway: `POST /v1/topics/{topic}/messages`, 201 after the broker confirm (autocannon).',
    "Direct: the broker's own client, one message per call, same durability (closed loop).",
    '',
    '| broker | gateway req/s | gateway p50 ms | gateway p99 ms | gateway errors | direct msg/s | direct p50 ms | direct p99 ms | direct errors | gateway / direct |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      ({ broker, gateway: g, direct: d }) =>
        `| ${broker} | ${fmt(g.perSecond, 0)} | ${fmt(g.p50Ms, 2)} | ${fmt(g.p99Ms, 2)} | ${g.errors} | ${fmt(d.perSecond, 0)} | ${fmt(d.p50Ms, 2)} | ${fmt(d.p99Ms, 2)} | ${d.errors} | ${fmt(g.perSecond / d.perSecond, 2)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

const rows: Row[] = [];
for (const name of wanted) rows.push(await benchOne(name));
const text = report(rows);
mkdirSync(path.join(root, 'bench/results'), { recursive: true });
writeFileSync(path.join(root, 'bench/results/report.md'), text);
process.stdout.write(text);
