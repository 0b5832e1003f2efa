/**
 * Publish throughput and latency through the gateway next to the same broker's own client at the
 * same durability, per broker, in one run; then accept mode (202 after the outbox fsync, with
 * `Prefer: respond-async`) and the relay's drain rate. Written to bench/results/report.md.
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
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { v7 as uuidv7 } from 'uuid';
import prettier from 'prettier';
import YAML from 'yaml';
import { ensureBrokers } from '../deploy/local/brokers.js';
import { BENCH_TARGETS } from './targets.js';
import type { BenchTarget } from './direct/types.js';
import { closedLoop, type LoadResult } from './load.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/support/ports.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const seconds = Number(option('seconds', '10'));
const connections = Number(option('connections', '32'));
const size = Number(option('size', '256'));
const wanted = option('brokers', BENCH_TARGETS.map((t) => t.name).join(',')).split(',');

/**
 * The example config with every route allowing `Prefer: respond-async` (accept mode), written
 * into the gateway's working directory (its outbox goes to ./data there).
 */
function acceptModeConfig(config: string, dir: string): string {
  const document = YAML.parseDocument(readFileSync(path.join(root, config), 'utf8'));
  const routes = document.get('routes') as YAML.YAMLSeq<YAML.YAMLMap>;
  for (const route of routes.items) route.set('allowAsync', true);
  const file = path.join(dir, 'accept-mode.yaml');
  writeFileSync(file, document.toString());
  return file;
}

interface BenchGateway {
  readonly url: string;
  /** Its working directory (the outbox is ./data/outbox.db there). */
  readonly dir: string;
  /** SIGTERM, then resolves once the process has exited (it holds the outbox file until then). */
  stop(): Promise<void>;
}

async function startGateway(
  config: string,
  options: {
    acceptMode?: boolean;
    /** Reuse this working directory (and its outbox). Default: a new temp dir. */
    dir?: string;
    env?: Record<string, string>;
    /** Wait for /livez only (a gateway whose broker is unreachable is never ready). */
    liveOnly?: boolean;
  } = {},
): Promise<BenchGateway> {
  const port = await freePort();
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'pubgate-bench-'));
  const configFile = options.acceptMode ? acceptModeConfig(config, dir) : path.join(root, config);
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(root, 'dist/gateway/main.js'), '--config', configFile],
    {
      cwd: dir,
      env: { ...process.env, PORT: String(port), PUBGATE_LOG_LEVEL: 'error', ...options.env },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const probe = options.liveOnly ? 'livez' : 'readyz';
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/${probe}`)).ok) {
        return {
          url,
          dir,
          async stop() {
            child.kill('SIGTERM');
            await exited;
          },
        };
      }
    } catch {
      // not yet listening
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`gateway with ${config} did not answer /${probe}`);
}

function throughGateway(
  url: string,
  topic: string,
  body: string,
  duration: number,
  extraHeaders: Record<string, string> = {},
  /** > 0: each request carries a Message-Key, round robin over this many keys. */
  keys = 0,
): Promise<LoadResult> {
  let sent = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}/v1/topics/${topic}/messages`,
        method: 'POST',
        connections,
        duration,
        headers: { authorization: 'Bearer dev-key', 'content-type': 'application/json', ...extraHeaders },
        body,
        ...(keys > 0
          ? {
              requests: [
                {
                  setupRequest: (request: autocannon.Request) => ({
                    ...request,
                    headers: { ...request.headers, 'message-key': `k${sent++ % keys}` },
                  }),
                },
              ],
            }
          : {}),
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

/** Accept mode: 202 answers, then how fast the relay moved them to the broker. */
interface AcceptRow {
  accept: LoadResult;
  /** Rows the relay confirmed from the start of the load until the outbox was empty. */
  relayed: number;
  /** Queued rows when the load stopped (the backlog the relay still had to drain). */
  backlog: number;
  /** From the end of the load until the outbox was empty. */
  drainSeconds: number;
  /** relayed / (load seconds + drainSeconds): the relay's sustained rate. */
  relayPerSecond: number;
  /** Still queued when the drain wait gave up (0 when it emptied). */
  leftQueued: number;
}

interface Row {
  broker: string;
  gateway: LoadResult;
  direct: LoadResult;
  accepted: AcceptRow;
  drain: DrainRow | undefined;
  /** The same drain with every message keyed (DRAIN_KEYS keys): runs per key, order kept. */
  keyedDrain: DrainRow | undefined;
}

/** Keys of the keyed backlog: like a few hot partitions' worth of ordered traffic. */
const DRAIN_KEYS = 4;

/** Sums the samples of one metric (all label sets matching `labels`) in a Prometheus scrape. */
function metricSum(scrape: string, name: string, labels: RegExp = /.*/): number {
  let sum = 0;
  for (const line of scrape.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (match?.[1] === name && labels.test(match[2] ?? '')) sum += Number(match[3]);
  }
  return sum;
}

async function outboxState(url: string): Promise<{ queued: number; relayed: number }> {
  const scrape = await (await fetch(`${url}/metrics`)).text();
  return {
    queued: metricSum(scrape, 'pubgate_outbox_messages', /state="queued"/),
    relayed: metricSum(scrape, 'pubgate_relay_publish_total', /outcome="confirmed"/),
  };
}

/** The relay emptying a backlog built while the broker was unreachable. */
interface DrainRow {
  backlog: number;
  seconds: number;
  perSecond: number;
  leftQueued: number;
}

/** How long the relay may take to empty an outbox before the bench gives up on it. */
const DRAIN_CAP_S = 120;

/** Polls the metrics until the outbox has nothing queued (or DRAIN_CAP_S passed). */
async function waitForEmptyOutbox(
  url: string,
): Promise<{ queued: number; relayed: number; seconds: number }> {
  const started = performance.now();
  let state = await outboxState(url);
  while (state.queued > 0 && performance.now() - started < DRAIN_CAP_S * 1000) {
    await sleep(50);
    state = await outboxState(url);
  }
  return { ...state, seconds: (performance.now() - started) / 1000 };
}

/**
 * Builds a backlog: a gateway whose broker endpoint is unreachable (`unreachableEnv`) accepts
 * `seconds` of `Prefer: respond-async` load into its outbox. Then a gateway with the real endpoint
 * starts on the same outbox, and the relay's drain is timed from its first readiness to empty.
 */
async function drainBacklog(
  target: BenchTarget,
  topic: string,
  body: string,
  keys = 0,
): Promise<DrainRow | undefined> {
  if (!target.unreachableEnv) return undefined;
  const offline = await startGateway(target.config, {
    acceptMode: true,
    env: target.unreachableEnv,
    liveOnly: true,
  });
  let backlog: number;
  try {
    await throughGateway(offline.url, topic, body, seconds, { prefer: 'respond-async' }, keys);
    backlog = (await outboxState(offline.url)).queued;
  } finally {
    await offline.stop();
  }
  const online = await startGateway(target.config, { acceptMode: true, dir: offline.dir });
  try {
    const drained = await waitForEmptyOutbox(online.url);
    return {
      backlog,
      seconds: drained.seconds,
      perSecond: drained.relayed / drained.seconds,
      leftQueued: drained.queued,
    };
  } finally {
    await online.stop();
  }
}

/** Accept-mode load, then waits (up to DRAIN_CAP_S) for the relay to empty the outbox. */
async function acceptMode(config: string, topic: string, body: string): Promise<AcceptRow> {
  const gateway = await startGateway(config, { acceptMode: true });
  try {
    const headers = { prefer: 'respond-async' };
    await throughGateway(gateway.url, `${topic}-warm`, body, 2, headers).catch(() => undefined);
    for (let i = 0; i < 600 && (await outboxState(gateway.url)).queued > 0; i++) await sleep(100);
    const before = await outboxState(gateway.url);
    const accept = await throughGateway(gateway.url, topic, body, seconds, headers);
    const atEnd = await outboxState(gateway.url);
    const state = await waitForEmptyOutbox(gateway.url);
    const drainSeconds = state.seconds;
    const relayed = state.relayed - before.relayed;
    return {
      accept,
      relayed,
      backlog: atEnd.queued,
      drainSeconds,
      relayPerSecond: relayed / (accept.seconds + drainSeconds),
      leftQueued: state.queued,
    };
  } finally {
    await gateway.stop();
  }
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
    await gateway.stop();
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

  const acceptTopic = `bench.accept-${run}`;
  await target.prepare?.(target.destination(acceptTopic));
  process.stderr.write(
    `${name}: accept mode (Prefer: respond-async) for ${seconds}s, then the relay drains ...\n`,
  );
  const accepted = await acceptMode(target.config, acceptTopic, body);

  const drainTopic = `bench.drain-${run}`;
  await target.prepare?.(target.destination(drainTopic));
  process.stderr.write(
    `${name}: backlog with the broker unreachable for ${seconds}s, then the relay drains it ...\n`,
  );
  const drain = await drainBacklog(target, drainTopic, body);

  const keyedTopic = `bench.drain-keyed-${run}`;
  await target.prepare?.(target.destination(keyedTopic));
  process.stderr.write(`${name}: the same with ${DRAIN_KEYS} message keys ...\n`);
  const keyedDrain = await drainBacklog(target, keyedTopic, body, DRAIN_KEYS);
  return { broker: name, gateway: viaGateway, direct: viaDirect, accepted, drain, keyedDrain };
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
    '## Accept mode and the relay',
    '',
    "`Prefer: respond-async` on routes with `allowAsync: true`: 202 once the message is fsync'd in the",
    'SQLite outbox; the relay publishes it. Relay rate = messages the relay confirmed from the start',
    'of the load until the outbox was empty, divided by that time. Backlog = queued when the load',
    'stopped; drain = from then until the outbox was empty.',
    '',
    '| broker | 202 req/s | 202 p50 ms | 202 p99 ms | errors | relayed | relay msg/s | backlog | drain s | left queued | 202 / sync 201 |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      ({ broker, gateway: g, accepted: a }) =>
        `| ${broker} | ${fmt(a.accept.perSecond, 0)} | ${fmt(a.accept.p50Ms, 2)} | ${fmt(a.accept.p99Ms, 2)} | ${a.accept.errors} | ${a.relayed} | ${fmt(a.relayPerSecond, 0)} | ${a.backlog} | ${fmt(a.drainSeconds, 1)} | ${a.leftQueued} | ${fmt(a.accept.perSecond / g.perSecond, 2)} |`,
    ),
    '',
    '## Relay drain of a backlog',
    '',
    'A backlog is accepted (202) for the same time by a gateway whose broker endpoint is unreachable;',
    'then a gateway with the real endpoint opens the same outbox, and the drain is timed from its',
    'readiness until nothing is queued. Drain / direct compares the relay with the broker client.',
    `Keyed: every message carries one of ${DRAIN_KEYS} \`Message-Key\`s (round robin); the relay keeps`,
    "each key's order (a key's rows go out as ordered runs).",
    '',
    '| broker | keys | backlog | drain s | relay msg/s | left queued | drain / direct |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.flatMap(({ broker, drain, keyedDrain, direct }) =>
      (
        [
          ['none', drain],
          [String(DRAIN_KEYS), keyedDrain],
        ] as const
      ).map(([keys, d]) =>
        d === undefined
          ? `| ${broker} | ${keys} | — | — | — | — | — |`
          : `| ${broker} | ${keys} | ${d.backlog} | ${fmt(d.seconds, 1)} | ${fmt(d.perSecond, 0)} | ${d.leftQueued} | ${fmt(d.perSecond / direct.perSecond, 2)} |`,
      ),
    ),
    '',
  ];
  return lines.join('\n');
}

const rows: Row[] = [];
for (const name of wanted) rows.push(await benchOne(name));
// Formatted as the repository formats Markdown, so the committed report passes the format check.
const reportFile = path.join(root, 'bench/results/report.md');
const text = await prettier.format(report(rows), {
  ...(await prettier.resolveConfig(reportFile)),
  filepath: reportFile,
});
mkdirSync(path.dirname(reportFile), { recursive: true });
writeFileSync(reportFile, text);
process.stdout.write(text);
