/**
 * Memory soak: does the gateway's memory stay flat under a steady load once it is warm?
 *
 *   npm run bench:soak -- [--minutes 5] [--warmup 60] [--connections 32] [--rate 0] [--size 256]
 *                         [--keys 0|N|unique] [--log-level info] [--node-args "..."] [--env NAME=VALUE ...]
 *                         [--out bench/results/soak.md] [--dist dist]
 *
 * Starts the built gateway (dist/gateway/main.js with the development default: embedded broker
 * under ./data of a temp directory; `--dist` runs another build) as its own process, with the Node
 * flags `npm start` gives it (the NODE_OPTIONS of package.json's start script; `--node-args`
 * replaces them, `--env` adds environment variables such as MALLOC_ARENA_MAX=2). Warms it up for
 * `--warmup` seconds, then sends sync publishes (POST /v1/topics/{topic}/messages, `--size`-byte
 * JSON, 201 after the fsync) for `--minutes` minutes: `--connections` callers back to back, or
 * `--rate` requests per second in all. `--keys` gives each message a Message-Key: round robin over
 * N keys, or a new one every time (`unique`: what fills per-key state, such as the sequence counters).
 *
 * The child's RSS (VmRSS from /proc/<pid>/status) is read every 5 s: each minute's row gives the
 * mean and the highest of its readings (a single reading lands anywhere in the garbage collector's
 * cycle). At the end of each minute /metrics gives the V8 heap (used, committed), external and
 * ArrayBuffer memory, and the event-loop delay p99 of that minute. Drift = the last minute's mean
 * RSS against the first warm minute's. The table is printed and written to `--out`.
 *
 * The load generator shares the machine with the gateway: on 2 cores the throughput is noisy.
 * What the soak checks is the drift of memory at a steady load, not the req/s.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import prettier from 'prettier';
import { freePort } from '../test/support/ports.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** Every value of a repeatable option (`--env A=1 --env B=2`). */
function options(name: string): string[] {
  return process.argv.flatMap((arg, i) =>
    arg === `--${name}` && process.argv[i + 1] !== undefined ? [process.argv[i + 1]!] : [],
  );
}

/** The Node flags `npm start` runs the gateway with: its `NODE_OPTIONS="<flags> $NODE_OPTIONS"`. */
function startFlags(): string {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const match = /\bNODE_OPTIONS=["']?([^"'$]*)/.exec(pkg.scripts?.start ?? '');
  return match?.[1]?.trim() ?? '';
}

const minutes = Number(option('minutes', '5'));
const warmupSeconds = Number(option('warmup', '60'));
const connections = Number(option('connections', '32'));
const rate = Number(option('rate', '0'));
const size = Number(option('size', '256'));
/** Message-Key of each publish: none (0), round robin over N keys, or `unique` (a new key every time). */
const keys = option('keys', '0');
const uniqueKeys = keys === 'unique';
const keyCount = uniqueKeys ? 0 : Number(keys);
const logLevel = option('log-level', 'info');
const nodeArgs = option('node-args', startFlags()).split(' ').filter(Boolean);
const extraEnv = Object.fromEntries(
  options('env').map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--env wants NAME=VALUE, got ${pair}`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
const outFile = path.resolve(root, option('out', 'bench/results/soak.md'));
/** The build to run: this checkout's dist/, or another's (to compare two versions). */
const distDir = path.resolve(root, option('dist', 'dist'));
const otherBuild = distDir !== path.join(root, 'dist');
/** Largest RSS drift (last minute against the first warm minute) the soak accepts. */
const MAX_DRIFT = 0.05;
const ROW_SECONDS = 60;
const RSS_EVERY_MS = 5_000;

if (
  !(minutes >= 1) ||
  !(warmupSeconds >= 0) ||
  !(connections >= 1) ||
  !(rate >= 0) ||
  !(uniqueKeys || keyCount >= 0)
) {
  throw new Error('--minutes >= 1, --warmup >= 0, --connections >= 1, --rate >= 0, --keys 0, N or unique');
}

interface Gateway {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startGateway(dir: string): Promise<Gateway> {
  const port = await freePort();
  // No --config: the development default (embedded broker under ./data), as `npm start` runs it.
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, path.join(distDir, 'gateway/main.js')], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), PUBGATE_LOG_LEVEL: logLevel, ...extraEnv },
    // Access-log lines go nowhere, but the gateway still formats and writes them.
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) {
        return {
          url,
          pid: child.pid!,
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
  throw new Error('the gateway did not answer /readyz');
}

/** VmRSS, RssAnon and VmHWM of a process, in bytes (Linux /proc). */
function procMemory(pid: number): { rss: number; anon: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') * 1024, anon: kb('RssAnon') * 1024, peak: kb('VmHWM') * 1024 };
}

/**
 * Where a process's resident memory is, from /proc/<pid>/smaps: file-backed mappings (the node
 * binary, shared libraries), the brk heap (glibc's main malloc arena: SQLite's page caches,
 * libuv, http-parser), and other anonymous mappings (the V8 heap's pages, large malloc blocks and
 * the malloc arenas of other threads). Bytes.
 */
function residentByKind(pid: number): { file: number; brk: number; anonymous: number } {
  const out = { file: 0, brk: 0, anonymous: 0 };
  let kind: keyof typeof out = 'anonymous';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1] ?? '';
      kind = name.startsWith('/') ? 'file' : name === '[heap]' ? 'brk' : 'anonymous';
    } else if (line.startsWith('Rss:')) {
      out[kind] += Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
    }
  }
  return out;
}

/** Sizes of the files in the gateway's data directory (the SQLite databases and their WALs). */
function dataFiles(dir: string): string {
  const data = path.join(dir, 'data');
  return readdirSync(data)
    .sort()
    .map((name) => `${name} ${mb(statSync(path.join(data, name)).size)} MB`)
    .join(', ');
}

/** One unlabelled sample of a Prometheus scrape (NaN when absent). */
function sample(scrape: string, name: string): number {
  const match = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(scrape);
  return match ? Number(match[1]) : NaN;
}

interface Snapshot {
  rss: number;
  anon: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  loopP99Ms: number;
}

interface Row extends Snapshot {
  minute: number;
  ok: number;
  failed: number;
  /** Mean and highest of the RSS readings of the minute. */
  rssMean: number;
  rssMax: number;
}

async function snapshot(gateway: Gateway): Promise<Snapshot> {
  // The event-loop histogram restarts at every scrape, so each row holds the delay of its minute.
  const scrape = await (await fetch(`${gateway.url}/metrics`)).text();
  const memory = procMemory(gateway.pid);
  return {
    rss: memory.rss,
    anon: memory.anon,
    heapUsed: sample(scrape, 'pubgate_nodejs_heap_size_used_bytes'),
    heapTotal: sample(scrape, 'pubgate_nodejs_heap_size_total_bytes'),
    external: sample(scrape, 'pubgate_nodejs_external_memory_bytes'),
    arrayBuffers: sample(scrape, 'pubgate_nodejs_array_buffers_bytes'),
    loopP99Ms: sample(scrape, 'pubgate_nodejs_eventloop_lag_p99_seconds') * 1000,
  };
}

/** Failed answers of the whole run by status code (or client error message), for the report. */
const failures = new Map<string, number>();

interface LoadRun {
  /** Answers counted since the last take(): 2xx, and anything else (non-2xx, errors, timeouts). */
  take(): { ok: number; failed: number };
  done: Promise<void>;
  stop(): void;
}

function load(url: string, seconds: number, topic: string): LoadRun {
  const body = JSON.stringify({ pad: 'x'.repeat(Math.max(0, size - 10)) });
  let ok = 0;
  let failed = 0;
  let sent = 0;
  const fail = (what: string) => {
    failed++;
    failures.set(what, (failures.get(what) ?? 0) + 1);
  };
  let instance: autocannon.Instance | undefined;
  const done = new Promise<void>((resolve, reject) => {
    const started = autocannon(
      {
        url: `${url}/v1/topics/${topic}/messages`,
        method: 'POST',
        connections,
        duration: seconds,
        ...(rate > 0 ? { overallRate: rate } : {}),
        headers: { authorization: 'Bearer dev-key', 'content-type': 'application/json' },
        body,
        ...(uniqueKeys || keyCount > 0
          ? {
              requests: [
                {
                  setupRequest: (request: autocannon.Request) => ({
                    ...request,
                    headers: {
                      ...request.headers,
                      'message-key': uniqueKeys ? `key-${randomUUID()}` : `k${sent++ % keyCount}`,
                    },
                  }),
                },
              ],
            }
          : {}),
      },
      (error) => (error ? reject(error) : resolve()),
    );
    started.on('response', (_client: unknown, status: number) => {
      if (status >= 200 && status < 300) ok++;
      else fail(String(status));
    });
    started.on('reqError', (error: Error) => fail(error.message));
    instance = started;
  });
  return {
    take() {
      const counts = { ok, failed };
      ok = 0;
      failed = 0;
      return counts;
    },
    done,
    stop: () => instance?.stop(),
  };
}

const mb = (bytes: number) => (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(1) : '—');
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-soak-'));
const gateway = await startGateway(dir);
const rows: Row[] = [];
let idle: Snapshot | undefined;
let warmed: Snapshot | undefined;
let after: Snapshot | undefined;
let peak = 0;
let resident: ReturnType<typeof residentByKind> | undefined;
let files = '';
try {
  await sleep(2_000);
  idle = await snapshot(gateway);
  process.stderr.write(`soak: idle RSS ${mb(idle.rss)} MB; warming up for ${warmupSeconds}s ...\n`);
  if (warmupSeconds > 0) await load(gateway.url, warmupSeconds, 'soak.warmup').done;
  warmed = await snapshot(gateway);
  process.stderr.write(
    `soak: after warm-up RSS ${mb(warmed.rss)} MB; ${minutes} min of sync publishes, ` +
      `${rate > 0 ? `${rate} req/s` : `${connections} connections`} ...\n`,
  );
  const steady = load(gateway.url, minutes * ROW_SECONDS + 5, 'soak.steady');
  const started = performance.now();
  for (let minute = 1; minute <= minutes; minute++) {
    const readings: number[] = [];
    for (let k = 1; k <= ROW_SECONDS / (RSS_EVERY_MS / 1000); k++) {
      const at = started + ((minute - 1) * ROW_SECONDS * 1000 + k * RSS_EVERY_MS);
      await sleep(Math.max(0, at - performance.now()));
      readings.push(procMemory(gateway.pid).rss);
    }
    const row: Row = {
      minute,
      ...steady.take(),
      ...(await snapshot(gateway)),
      rssMean: readings.reduce((a, b) => a + b, 0) / readings.length,
      rssMax: Math.max(...readings),
    };
    rows.push(row);
    process.stderr.write(
      `  ${minute} min: ${Math.round(row.ok / ROW_SECONDS)} req/s, ${row.failed} failed, ` +
        `RSS mean ${mb(row.rssMean)} max ${mb(row.rssMax)} MB, heap ${mb(row.heapUsed)}/${mb(row.heapTotal)} MB, ` +
        `loop p99 ${row.loopP99Ms.toFixed(1)} ms\n`,
    );
  }
  steady.stop();
  await steady.done;
  await sleep(10_000);
  after = await snapshot(gateway);
  peak = procMemory(gateway.pid).peak;
  resident = residentByKind(gateway.pid);
  files = dataFiles(dir);
} finally {
  await gateway.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (!idle || !warmed || !after || !resident || rows.length === 0) throw new Error('the soak did not finish');
const first = rows[0]!;
const last = rows[rows.length - 1]!;
const drift = (last.rssMean - first.rssMean) / first.rssMean;
const maxDrift = (last.rssMax - first.rssMax) / first.rssMax;
const heapDrift = (last.heapTotal - first.heapTotal) / first.heapTotal;
const verdict = Math.abs(drift) < MAX_DRIFT ? 'within' : 'OVER';
const extras = [
  `node flags ${nodeArgs.length > 0 ? `\`${nodeArgs.join(' ')}\`` : 'none'}`,
  ...Object.entries(extraEnv).map(([k, v]) => `\`${k}=${v}\``),
];
const point = (when: string, s: Snapshot) =>
  `| ${when} | — | — | ${mb(s.rss)} | — | ${mb(s.anon)} | ${mb(s.heapUsed)} | ${mb(s.heapTotal)} | ${mb(s.external)} | ${mb(s.arrayBuffers)} | ${s.loopP99Ms.toFixed(1)} |`;

const text = [
  '# Memory soak',
  '',
  `Run ${new Date().toISOString()} on ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}.`,
  `Gateway: \`node dist/gateway/main.js\`${otherBuild ? ' (of another build, `--dist`)' : ''} as \`npm start\` runs it, the development default (embedded broker, a temp ./data), ` +
    `log level ${logLevel}, ${extras.join(', ')}.`,
  `Load: sync publishes (\`POST /v1/topics/soak.steady/messages\`, 201 after the fsync), ${size}-byte JSON, ` +
    `${uniqueKeys ? 'a new Message-Key on every message, ' : keyCount > 0 ? `Message-Key round robin over ${keyCount} keys, ` : ''}` +
    `${rate > 0 ? `${rate} req/s in all` : `${connections} connections back to back`} (autocannon, in the bench process), ` +
    `${warmupSeconds} s of warm-up, then ${minutes} min.`,
  `RSS: VmRSS from /proc/<pid>/status every ${RSS_EVERY_MS / 1000} s, mean and max per minute; the other columns ` +
    'at the end of each minute: RssAnon (/proc), heap, external and ArrayBuffers (/metrics), event-loop delay p99 ' +
    'of the minute (/metrics resets it at every scrape).',
  '',
  '| minute | req/s | failed | RSS mean MB | RSS max MB | RssAnon MB | heap used MB | heap total MB | external MB | ArrayBuffers MB | loop p99 ms |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  point('idle, started', idle),
  point('after warm-up', warmed),
  ...rows.map(
    (r) =>
      `| ${r.minute} | ${Math.round(r.ok / ROW_SECONDS)} | ${r.failed} | ${mb(r.rssMean)} | ${mb(r.rssMax)} | ${mb(r.anon)} | ${mb(r.heapUsed)} | ${mb(r.heapTotal)} | ${mb(r.external)} | ${mb(r.arrayBuffers)} | ${r.loopP99Ms.toFixed(1)} |`,
  ),
  point('idle, 10 s after', after),
  '',
  `Drift, last minute against the first warm one: mean RSS ${pct(drift)} (${mb(first.rssMean)} → ${mb(last.rssMean)} MB), ` +
    `max RSS ${pct(maxDrift)}, heap total ${pct(heapDrift)} — ${verdict} the ${MAX_DRIFT * 100} % bound. ` +
    `Peak RSS (VmHWM) ${mb(peak)} MB. ` +
    `${rows.reduce((n, r) => n + r.ok, 0)} publishes confirmed, ${rows.reduce((n, r) => n + r.failed, 0)} failed` +
    (failures.size > 0
      ? ` (warm-up included, by status: ${[...failures].map(([what, n]) => `${what} × ${n}`).join(', ')}).`
      : '.'),
  '',
  `Resident memory 10 s after the load, by mapping (/proc/<pid>/smaps): file-backed ${mb(resident.file)} MB ` +
    `(the node binary and libraries), brk heap ${mb(resident.brk)} MB (malloc's main arena: SQLite page caches, ` +
    `libuv, HTTP parsing), other anonymous ${mb(resident.anonymous)} MB (V8 heap pages, large malloc blocks, ` +
    `other threads' malloc arenas). Data directory at the end: ${files}.`,
  '',
].join('\n');

// Formatted as the repository formats Markdown, so a committed result passes the format check.
const formatted = await prettier.format(text, {
  ...(await prettier.resolveConfig(outFile)),
  filepath: outFile,
});
mkdirSync(path.dirname(outFile), { recursive: true });
writeFileSync(outFile, formatted);
process.stdout.write(formatted);
if (verdict === 'OVER') process.exitCode = 1;
