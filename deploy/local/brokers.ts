/**
 * Local broker provisioning for development and CI, without Docker.
 *
 * - Kafka (KRaft, one combined broker+controller node) and RocketMQ 5 (NameServer + broker with its
 *   proxy in local mode) run as plain Java processes from Maven Central artifacts, fetched once with
 *   `mvn dependency:copy-dependencies` into a cache outside the repository. This module starts them
 *   detached, keeps their pid files, data and logs in a state folder, and stops them again.
 * - RabbitMQ, PostgreSQL, Redis and NATS (with JetStream) are machine services: they are started with
 *   their usual command only if nothing answers on their port, and never stopped unless named explicitly.
 *
 * Every wait is bounded; a broker that does not come up is named in the error together with the
 * tail of its log. The CLI (cli.ts) is a thin layer over the exported functions below.
 *
 * Environment (all optional): PUBGATE_CACHE_DIR, PUBGATE_STATE_DIR, PUBGATE_KAFKA_VERSION,
 * PUBGATE_ROCKETMQ_VERSION, PUBGATE_DOWNLOAD_TIMEOUT_MS, PUBGATE_START_TIMEOUT_MS,
 * PUBGATE_STOP_TIMEOUT_MS, PUBGATE_BROKERS_SEQUENTIAL, JAVA_HOME, PUBGATE_MVN. See README.md.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, promises as fs, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { connect as amqpConnect } from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';

import { getClusterInfo, topicHasRoute, updateAndCreateTopic } from './rocketmq-remoting.js';

// ---------------------------------------------------------------------------------------------
// Names, settings, paths
// ---------------------------------------------------------------------------------------------

export const BROKER_NAMES = ['kafka', 'rocketmq', 'rabbitmq', 'postgres', 'redis', 'nats'] as const;
export type BrokerName = (typeof BROKER_NAMES)[number];

/** Brokers this tool runs itself (and `down` stops by default). */
export const MANAGED_BROKERS: readonly BrokerName[] = ['kafka', 'rocketmq'];
/** Machine services: started if not answering, stopped only when named explicitly. */
export const SERVICE_BROKERS: readonly BrokerName[] = ['rabbitmq', 'postgres', 'redis', 'nats'];

export function isBrokerName(value: string): value is BrokerName {
  return (BROKER_NAMES as readonly string[]).includes(value);
}

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number of ms, got "${raw}"`);
  return value;
}

/** Settings, read from the environment on each call (so tests may change them). */
export function settings() {
  const cacheDir = process.env.PUBGATE_CACHE_DIR || path.join(os.homedir(), '.cache', 'pubgate');
  const stateDir = process.env.PUBGATE_STATE_DIR || path.join(os.homedir(), '.cache', 'pubgate', 'state');
  return {
    cacheDir,
    stateDir,
    kafkaVersion: process.env.PUBGATE_KAFKA_VERSION || '4.3.1',
    rocketmqVersion: process.env.PUBGATE_ROCKETMQ_VERSION || '5.3.3',
    /** Maven download of a broker's jars (first run only). */
    downloadTimeoutMs: envInt('PUBGATE_DOWNLOAD_TIMEOUT_MS', 15 * 60_000),
    /** From spawning a broker until it is healthy. */
    startTimeoutMs: envInt('PUBGATE_START_TIMEOUT_MS', 180_000),
    /** SIGTERM grace period before SIGKILL; also bounds the wait for ports to close. */
    stopTimeoutMs: envInt('PUBGATE_STOP_TIMEOUT_MS', 30_000),
    sequential: ['1', 'true', 'yes'].includes((process.env.PUBGATE_BROKERS_SEQUENTIAL ?? '').toLowerCase()),
    java: process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java',
    mvn: process.env.PUBGATE_MVN || 'mvn',
  };
}
export type Settings = ReturnType<typeof settings>;

const HOST = '127.0.0.1';
export const PORTS = {
  kafka: 9092,
  kafkaController: 9093,
  /**
   * A second Kafka listener for fault tests, advertised at `kafkaProxy`: a fault proxy listening
   * there and forwarding here stays on the path of every connection, since Kafka clients reconnect
   * to the advertised address. Nothing listens on `kafkaProxy` unless a test starts a proxy.
   */
  kafkaProxied: 19093,
  kafkaProxy: 19092,
  rocketmqNamesrv: 9876,
  rocketmqGrpc: 8081,
  rocketmqRemoting: 8082,
  rocketmqBroker: 10911,
  rabbitmq: 5672,
  postgres: 5432,
  redis: 6379,
  nats: 4222,
} as const;

export const ROCKETMQ_CLUSTER = 'DefaultCluster';
export const ROCKETMQ_BROKER_NAME = 'broker-a';
export const ROCKETMQ_NAMESRV = `${HOST}:${PORTS.rocketmqNamesrv}`;

/** Addresses clients should use. */
export const ADDRESSES: Record<BrokerName, string> = {
  kafka: `${HOST}:${PORTS.kafka}`,
  rocketmq: `${HOST}:${PORTS.rocketmqGrpc}`,
  rabbitmq: `amqp://guest:guest@${HOST}:${PORTS.rabbitmq}`,
  postgres: `postgres://${HOST}:${PORTS.postgres}`,
  redis: `redis://${HOST}:${PORTS.redis}`,
  nats: `nats://${HOST}:${PORTS.nats}`,
};

const STATUS_ADDRESSES: Record<BrokerName, string> = {
  kafka: `${HOST}:${PORTS.kafka}`,
  rocketmq: `${HOST}:${PORTS.rocketmqGrpc} (gRPC), namesrv ${ROCKETMQ_NAMESRV}`,
  rabbitmq: `${HOST}:${PORTS.rabbitmq}`,
  postgres: `${HOST}:${PORTS.postgres}`,
  redis: `${HOST}:${PORTS.redis}`,
  nats: `${HOST}:${PORTS.nats} (JetStream)`,
};

/** Where a broker's state (pid files, data, logs) lives. */
export function brokerStateDir(name: BrokerName): string {
  return path.join(settings().stateDir, name);
}

/** Log files worth reading for a broker, most useful first. */
export function brokerLogFiles(name: BrokerName): string[] {
  const dir = brokerStateDir(name);
  switch (name) {
    case 'kafka':
      return [path.join(dir, 'logs', 'server.log'), path.join(dir, 'logs', 'stdout.log')];
    case 'rocketmq': {
      const logs = path.join(dir, 'logs', 'rocketmqlogs');
      return [
        path.join(logs, 'proxy.log'),
        path.join(logs, 'broker.log'),
        path.join(logs, 'namesrv.log'),
        path.join(dir, 'logs', 'proxy.stdout.log'),
        path.join(dir, 'logs', 'namesrv.stdout.log'),
      ];
    }
    case 'rabbitmq':
      return [path.join(dir, 'start.log'), '/var/log/rabbitmq'];
    case 'postgres':
      return [path.join(dir, 'start.log'), '/var/log/postgresql'];
    case 'redis':
      return [path.join(dir, 'start.log'), '/var/log/redis/ci.log'];
    case 'nats':
      return [path.join(dir, 'start.log'), NATS_SERVICE.logFile];
  }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** A broker that failed to start, stop or answer; `message` names it and carries its log tail. */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  constructor(
    readonly broker: BrokerName | 'tooling',
    message: string,
    readonly logTail?: string,
  ) {
    super(logTail ? `${message}\n${logTail}` : message);
  }
}

/** Several brokers failed in one `ensureBrokers` call. */
export class BrokersError extends Error {
  override readonly name = 'BrokersError';
  constructor(readonly failures: BrokerError[]) {
    super(
      `${failures.length} broker(s) failed: ${failures.map((f) => f.broker).join(', ')}\n\n` +
        failures.map((f) => f.message).join('\n\n'),
    );
  }
}

/** The last `lines` lines of a file ('' when missing). Reads at most the last 256 KiB. */
export async function tailFile(file: string, lines = 40): Promise<string> {
  try {
    const handle = await fs.open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 256 * 1024);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const all = buffer.toString('utf8').split('\n');
      if (all.at(-1) === '') all.pop();
      return all.slice(-lines).join('\n');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

/** A readable block with the tails of a broker's logs (the first non-empty ones). */
export async function brokerLogTail(name: BrokerName, lines = 40): Promise<string> {
  const parts: string[] = [];
  let budget = lines;
  for (const file of brokerLogFiles(name)) {
    if (budget <= 0) break;
    let target = file;
    try {
      const stat = await fs.stat(file);
      if (stat.isDirectory()) {
        // Newest *.log file in the folder (machine services' log folders).
        const entries = await fs.readdir(file);
        let newest: { file: string; mtime: number } | undefined;
        for (const entry of entries.filter((e) => e.endsWith('.log'))) {
          const s = await fs.stat(path.join(file, entry)).catch(() => undefined);
          if (s && (!newest || s.mtimeMs > newest.mtime))
            newest = { file: path.join(file, entry), mtime: s.mtimeMs };
        }
        if (!newest) continue;
        target = newest.file;
      }
    } catch {
      continue;
    }
    const text = await tailFile(target, budget);
    if (!text.trim()) continue;
    const count = text.split('\n').length;
    parts.push(`--- last ${count} lines of ${target} ---\n${text}`);
    budget -= Math.max(count, 10);
  }
  return parts.length > 0 ? parts.join('\n') : `(no log output yet under ${brokerStateDir(name)})`;
}

// ---------------------------------------------------------------------------------------------
// Small process and network helpers
// ---------------------------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

class MissingCommandError extends Error {
  constructor(readonly command: string) {
    super(`command not found: ${command}`);
  }
}

/** Runs a command to completion (bounded by `timeoutMs`, then SIGKILL). */
function run(
  command: string,
  args: readonly string[],
  {
    timeoutMs = 60_000,
    env,
    cwd,
    untilOutput,
  }: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; untilOutput?: RegExp } = {},
): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(command, args, { env: env ?? process.env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let matched = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const check = (): void => {
      if (untilOutput && !matched && untilOutput.test(stdout)) {
        // The answer is complete: no need to wait for a slow shutdown.
        matched = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      check();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' ? new MissingCommandError(command) : error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new Error(
            `${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}${stderr}`.trim(),
          ),
        );
        return;
      }
      resolve({ code: matched ? 0 : code, signal: matched ? null : signal, stdout, stderr });
    });
  });
}

const ANSI_ESCAPE = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g');
function stripAnsi(text: string): string {
  return text.replace(ANSI_ESCAPE, '');
}

/**
 * Wraps a command that leaves a daemon behind so that the daemon inherits no file descriptor but
 * stdin/stdout/stderr. Without it, a daemon keeps open whatever non-close-on-exec descriptors the
 * calling process had (a CI harness's or a test runner's pipes), and whoever waits for EOF on
 * those pipes waits until the broker stops. Uses bash (exec replaces it, so the pid is the
 * daemon's); without bash the command runs as is.
 */
const CLOSE_FDS_SCRIPT =
  'for p in /dev/fd/*; do n=${p##*/}; case $n in 0|1|2) ;; *) eval "exec $n>&-" 2>/dev/null ;; esac; done; exec "$@"';
function withoutInheritedFds(command: string, args: readonly string[]): [string, string[]] {
  for (const bash of ['/bin/bash', '/usr/bin/bash', '/usr/local/bin/bash', '/opt/homebrew/bin/bash']) {
    if (existsSync(bash)) return [bash, ['-c', CLOSE_FDS_SCRIPT, 'pubgate-exec', command, ...args]];
  }
  return [command, [...args]];
}

/** Whether a command exists on PATH (or as an absolute path). */
async function hasCommand(command: string): Promise<boolean> {
  if (path.isAbsolute(command)) return existsSync(command);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/sbin', '/sbin'])) {
    if (dir && existsSync(path.join(dir, command))) return true;
  }
  return false;
}

/** Resolves true when a TCP connection to host:port succeeds within `timeoutMs`. */
export function portOpen(port: number, host = HOST, timeoutMs = 1_000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ host, port });
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return procState(pid) !== 'Z';
}

/** The one-letter state of a process from /proc (R, S, T = stopped, Z = zombie...), or undefined. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSyncSafe(`/proc/${pid}/stat`);
    if (!stat) return undefined;
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

function readFileSyncSafe(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8'); // small /proc files: synchronous keeps the helpers simple
  } catch {
    return undefined;
  }
}

function procCmdline(pid: number): string | undefined {
  return readFileSyncSafe(`/proc/${pid}/cmdline`)?.replaceAll('\0', ' ');
}

/** Pids of processes listening on a TCP port (Linux /proc; [] elsewhere or without permission). */
async function listenerPids(port: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = readFileSyncSafe(table);
    if (!text) continue;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== '0A') continue;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = await fs.readdir('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = await fs.readdir(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = await fs.readlink(`/proc/${entry}/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(link);
        if (match?.[1] && inodes.has(match[1])) {
          pids.push(Number(entry));
          break;
        }
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return pids;
}

/** A process and all its descendants (Linux /proc; just the process elsewhere). */
async function processTree(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  try {
    for (const entry of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = readFileSyncSafe(`/proc/${entry}/stat`);
      if (!stat) continue;
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    }
  } catch {
    return [root];
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Polls `check` until it returns a value (not undefined) or the time is up. */
async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  { intervalMs = 500, failFast }: { intervalMs?: number; failFast?: () => Promise<string | undefined> } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    const fatal = await failFast?.();
    if (fatal) throw new Error(`${what}: ${fatal}`);
    if (Date.now() >= deadline) {
      throw new Error(
        `${what}: not done after ${Math.round(timeoutMs / 1000)} s${lastError ? ` (last error: ${lastError})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

async function readPidFile(file: string): Promise<number | undefined> {
  try {
    const pid = Number((await fs.readFile(file, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid in `file` if that process is alive and (where /proc tells) is the expected one. */
async function livePid(file: string, marker: string): Promise<number | undefined> {
  const pid = await readPidFile(file);
  if (pid === undefined || !pidAlive(pid)) return undefined;
  const cmdline = procCmdline(pid);
  if (cmdline !== undefined && !cmdline.includes(marker)) return undefined; // pid reused by another process
  return pid;
}

/**
 * Spawns a long-running process detached from this one (own session, stdio to a log file,
 * unref'd), so it survives the CLI exiting, and writes its pid file.
 */
async function spawnDetached(
  command: string,
  args: readonly string[],
  { logFile, pidFile, env, cwd }: { logFile: string; pidFile: string; env: NodeJS.ProcessEnv; cwd: string },
): Promise<ChildProcess> {
  await fs.mkdir(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a');
  const options: SpawnOptions = { detached: true, stdio: ['ignore', out, out], env, cwd };
  const child = await new Promise<ChildProcess>((resolve, reject) => {
    const [file, argv] = withoutInheritedFds(command, args);
    const c = spawn(file, argv, options);
    c.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'ENOENT' ? new MissingCommandError(command) : error),
    );
    c.once('spawn', () => resolve(c));
  }).finally(() => closeSync(out));
  child.unref();
  await fs.writeFile(pidFile, `${child.pid}\n`);
  return child;
}

/** A file lock (O_EXCL) so that two `up`s at once do not start a broker twice. Stale locks are taken over. */
async function withLock<T>(file: string, timeoutMs: number, body: () => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readPidFile(file);
      if (holder === undefined || !pidAlive(holder) || holder === process.pid) {
        if (holder === process.pid) {
          // Same process, another call: wait for it like any other holder.
          if (Date.now() >= deadline) throw new Error(`lock ${file} still held after ${timeoutMs} ms`);
          await sleep(250);
          continue;
        }
        await fs.rm(file, { force: true });
        continue;
      }
      if (Date.now() >= deadline)
        throw new Error(`lock ${file} still held by pid ${holder} after ${timeoutMs} ms`);
      await sleep(250);
    }
  }
  try {
    return await body();
  } finally {
    await fs.rm(file, { force: true });
  }
}

let mavenQueue: Promise<unknown> = Promise.resolve();
/** Maven runs one at a time in this process (concurrent runs on one ~/.m2 can corrupt it). */
function serializedMaven<T>(body: () => Promise<T>): Promise<T> {
  const next = mavenQueue.then(body, body);
  mavenQueue = next.catch(() => undefined);
  return next;
}

type Progress = (message: string) => void;
const silent: Progress = () => undefined;

// ---------------------------------------------------------------------------------------------
// Java and Maven
// ---------------------------------------------------------------------------------------------

async function requireJava(broker: BrokerName, minimum = 11): Promise<string> {
  const { java } = settings();
  try {
    const result = await run(java, ['-version'], { timeoutMs: 30_000 });
    const version = /version "([^"]+)"/.exec(result.stderr + result.stdout)?.[1] ?? '';
    const major = Number(version.startsWith('1.') ? version.split('.')[1] : version.split(/[.+-]/)[0]);
    if (Number.isFinite(major) && major > 0 && major < minimum) {
      throw new BrokerError(
        broker,
        `${broker}: needs Java ${minimum} or newer (17 recommended), found ${version} at ${java}. Install a newer JDK (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME.`,
      );
    }
    return java;
  } catch (error) {
    if (error instanceof BrokerError) throw error;
    throw new BrokerError(
      broker,
      `${broker}: cannot run Java (${java}): ${error instanceof Error ? error.message : String(error)}. ` +
        'Kafka and RocketMQ run as Java processes: install a JDK 17 (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; ' +
        'macOS: brew install openjdk@17) or set JAVA_HOME. Without Java, use Docker: docker compose -f deploy/compose/compose.yaml up -d',
    );
  }
}

interface Artifact {
  groupId: string;
  artifactId: string;
  version: string;
}

function pomFor(id: string, artifacts: readonly Artifact[]): string {
  const deps = artifacts
    .map(
      (a) =>
        `    <dependency><groupId>${a.groupId}</groupId><artifactId>${a.artifactId}</artifactId><version>${a.version}</version></dependency>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by pubgate deploy/local/brokers.ts: only used to fetch ${id}'s jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.pubgate</groupId>
  <artifactId>${id}-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
</project>
`;
}

/**
 * Makes sure `${cache}/<id>/libs` holds the artifacts and all their runtime dependencies; skips
 * Maven when the cache is complete (a marker file with the pom's hash is written last).
 */
async function ensureJars(
  broker: BrokerName,
  id: string,
  artifacts: readonly Artifact[],
  progress: Progress,
): Promise<string> {
  const s = settings();
  const dir = path.join(s.cacheDir, id);
  const libs = path.join(dir, 'libs');
  const marker = path.join(libs, '.complete');
  const pom = pomFor(id, artifacts);
  const hash = createHash('sha256').update(pom).digest('hex');
  const done = async (): Promise<boolean> =>
    (await fs.readFile(marker, 'utf8').catch(() => '')).trim() === hash;
  if (await done()) return libs;

  return serializedMaven(() =>
    withLock(path.join(dir, 'download.lock'), s.downloadTimeoutMs, async () => {
      if (await done()) return libs; // another process finished it meanwhile
      if (!(await hasCommand(s.mvn))) {
        throw new BrokerError(
          broker,
          `${broker}: its jars are not in the cache (${libs}) and Maven (${s.mvn}) is not installed to fetch them. ` +
            'Install Maven 3.6+ (Debian/Ubuntu: apt-get install maven; macOS: brew install maven) or set PUBGATE_MVN; ' +
            'or use Docker: docker compose -f deploy/compose/compose.yaml up -d',
        );
      }
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, 'pom.xml'), pom);
      const tmp = `${libs}.tmp-${process.pid}`;
      await fs.rm(tmp, { recursive: true, force: true });
      const mvnLog = path.join(dir, 'mvn.log');
      const started = Date.now();
      progress(
        `${broker}: fetching ${artifacts.map((a) => `${a.artifactId}:${a.version}`).join(', ')} from Maven Central (first run; log: ${mvnLog}) ...`,
      );
      let result: RunResult;
      try {
        result = await run(
          s.mvn,
          [
            '-B',
            '-Dstyle.color=never',
            '-f',
            path.join(dir, 'pom.xml'),
            'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies',
            `-DoutputDirectory=${tmp}`,
            '-DincludeScope=runtime',
          ],
          { timeoutMs: s.downloadTimeoutMs, cwd: dir },
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await fs.writeFile(mvnLog, message);
        throw new BrokerError(
          broker,
          `${broker}: Maven download failed or timed out (PUBGATE_DOWNLOAD_TIMEOUT_MS=${s.downloadTimeoutMs})`,
          await tailFile(mvnLog, 40),
        );
      }
      await fs.writeFile(mvnLog, stripAnsi(result.stdout + result.stderr));
      if (result.code !== 0) {
        throw new BrokerError(
          broker,
          `${broker}: Maven could not fetch ${artifacts.map((a) => `${a.groupId}:${a.artifactId}:${a.version}`).join(', ')} (exit ${result.code}): a version that does not exist, or Maven Central unreachable? See the log below`,
          `--- last lines of ${mvnLog} ---\n${await tailFile(mvnLog, 40)}`,
        );
      }
      await fs.rm(libs, { recursive: true, force: true });
      await fs.rename(tmp, libs);
      await fs.writeFile(marker, `${hash}\n`);
      progress(`${broker}: jars cached in ${libs} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return libs;
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Kafka
// ---------------------------------------------------------------------------------------------

const KAFKA_MARKER = '-Dpubgate.broker=kafka';

/** Kafka 4 logs through log4j 2; 3.x through reload4j (log4j 1.2). */
function kafkaMajor(version: string): number {
  return Number(version.split('.')[0]);
}

function kafkaArtifacts(version: string): Artifact[] {
  // The Maven artifact declares no logging backend (the binary distribution ships one): add the
  // one that distribution uses, or the broker logs nothing at all.
  const logging: Artifact[] =
    kafkaMajor(version) >= 4
      ? [
          { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-slf4j-impl', version: '2.24.3' },
          { groupId: 'org.apache.logging.log4j', artifactId: 'log4j-core', version: '2.24.3' },
        ]
      : [
          { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: '1.7.36' },
          { groupId: 'ch.qos.reload4j', artifactId: 'reload4j', version: '1.2.25' },
        ];
  return [{ groupId: 'org.apache.kafka', artifactId: 'kafka_2.13', version }, ...logging];
}

function kafkaPaths() {
  const dir = brokerStateDir('kafka');
  return {
    dir,
    // One data folder per version: a KRaft log formatted by 4.x cannot be read by 3.x.
    data: path.join(dir, `data-${settings().kafkaVersion}`),
    logs: path.join(dir, 'logs'),
    config: path.join(dir, 'server.properties'),
    log4j: path.join(
      dir,
      kafkaMajor(settings().kafkaVersion) >= 4 ? 'log4j2.properties' : 'log4j.properties',
    ),
    pidFile: path.join(dir, 'kafka.pid'),
    stdout: path.join(dir, 'logs', 'stdout.log'),
  };
}

function kafkaServerProperties(dataDir: string): string {
  return `# Generated by pubgate deploy/local/brokers.ts (rewritten on every start).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${PORTS.kafkaController}
# PROXIED: for fault tests, advertised at the port a fault proxy listens on (see README.md).
listeners=PLAINTEXT://${HOST}:${PORTS.kafka},CONTROLLER://${HOST}:${PORTS.kafkaController},PROXIED://${HOST}:${PORTS.kafkaProxied}
advertised.listeners=PLAINTEXT://${HOST}:${PORTS.kafka},PROXIED://${HOST}:${PORTS.kafkaProxy}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT
log.dirs=${dataDir}

auto.create.topics.enable=true
# 3 partitions, so per-key ordering across partitions means something.
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
# Fewer internal partitions than the default 50: the first consumer group starts faster on 2 cores.
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
min.insync.replicas=1
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0

# A small machine: fewer threads.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
`;
}

function kafkaLog4j(version: string): string {
  if (kafkaMajor(version) >= 4) {
    return `# Generated by pubgate deploy/local/brokers.ts (log4j 2). Logs go to \${kafka.logs.dir}/server.log.
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = \${sys:kafka.logs.dir}/server.log
appender.file.filePattern = \${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
`;
  }
  return `# Generated by pubgate deploy/local/brokers.ts (log4j 1.2). Logs go to \${kafka.logs.dir}/server.log.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=\${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.state.change.logger=WARN
`;
}

/** A Kafka cluster id: 16 random bytes, base64url without padding, not starting with '-'. */
function kafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function kafkaHealthy(timeoutMs = 5_000): Promise<void> {
  if (!(await portOpen(PORTS.kafka))) throw new Error(`nothing listens on ${HOST}:${PORTS.kafka}`);
  const kafka = new Kafka({
    clientId: 'pubgate-brokers-health',
    brokers: [`${HOST}:${PORTS.kafka}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(3_000, timeoutMs),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics(); // a metadata request
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits for a JVM this tool started earlier that is alive but not healthy (still starting, or
 * shutting down for another caller's restart). True when it became healthy, false when it exited.
 */
async function awaitExisting(
  what: string,
  pid: number,
  healthy: () => Promise<void>,
  progress: Progress,
): Promise<boolean> {
  progress(`${what}: pid ${pid} is running but not answering yet; waiting ...`);
  try {
    await waitFor(
      what,
      settings().startTimeoutMs,
      async () => ((await healthy().then(() => true)) ? true : undefined),
      {
        intervalMs: 1_000,
        failFast: async () => (pidAlive(pid) ? undefined : `pid ${pid} exited`),
      },
    );
    return true;
  } catch (error) {
    if (pidAlive(pid)) throw error;
    progress(`${what}: pid ${pid} exited; starting a new one`);
    return false;
  }
}

async function startKafka(progress: Progress): Promise<void> {
  const s = settings();
  const p = kafkaPaths();
  const existing = await livePid(p.pidFile, KAFKA_MARKER);
  if (existing !== undefined && (await awaitExisting('kafka', existing, () => kafkaHealthy(), progress)))
    return;
  for (const port of [PORTS.kafka, PORTS.kafkaController]) {
    if (await portOpen(port)) {
      // Something listens (and does not answer as a healthy Kafka), and it is not ours.
      const holders = await listenerPids(port);
      throw new BrokerError(
        'kafka',
        `kafka: port ${port} is taken by a process this tool did not start${holders.length ? ` (pid ${holders.join(', ')}: ${(procCmdline(holders[0] as number) ?? '').slice(0, 120)})` : ''}; stop it or free the port`,
      );
    }
  }
  // Kafka 4 brokers need Java 17; 3.x runs on 11.
  const java = await requireJava('kafka', kafkaMajor(s.kafkaVersion) >= 4 ? 17 : 11);
  const libs = await ensureJars('kafka', `kafka-${s.kafkaVersion}`, kafkaArtifacts(s.kafkaVersion), progress);
  await fs.mkdir(p.data, { recursive: true });
  await fs.mkdir(p.logs, { recursive: true });
  await fs.writeFile(p.config, kafkaServerProperties(p.data));
  await fs.writeFile(p.log4j, kafkaLog4j(s.kafkaVersion));
  const cp = `${libs}${path.sep}*`;
  const logOpts = [
    `-Dkafka.logs.dir=${p.logs}`,
    kafkaMajor(s.kafkaVersion) >= 4
      ? `-Dlog4j2.configurationFile=${p.log4j}`
      : `-Dlog4j.configuration=file:${p.log4j}`,
  ];

  if (!existsSync(path.join(p.data, 'meta.properties'))) {
    progress('kafka: formatting the KRaft storage (first run) ...');
    const format = await run(
      java,
      [
        '-Xmx256m',
        ...logOpts,
        '-cp',
        cp,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        kafkaClusterId(),
        '-c',
        p.config,
      ],
      { timeoutMs: 120_000 },
    );
    await fs.appendFile(p.stdout, format.stdout + format.stderr);
    if (format.code !== 0) {
      throw new BrokerError(
        'kafka',
        `kafka: formatting the storage in ${p.data} failed (exit ${format.code})`,
        await brokerLogTail('kafka'),
      );
    }
  }

  const child = await spawnDetached(
    java,
    [
      '-Xms256m',
      '-Xmx512m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35',
      '-XX:+ExplicitGCInvokesConcurrent',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      KAFKA_MARKER,
      ...logOpts,
      '-cp',
      cp,
      'kafka.Kafka',
      p.config,
    ],
    { logFile: p.stdout, pidFile: p.pidFile, env: process.env, cwd: p.dir },
  );
  progress(`kafka: started (pid ${child.pid}), waiting until it answers on ${HOST}:${PORTS.kafka} ...`);
  const pid = child.pid as number;
  await waitFor(
    'kafka',
    s.startTimeoutMs,
    async () => ((await kafkaHealthy().then(() => true)) ? true : undefined),
    {
      intervalMs: 1_000,
      failFast: async () => (pidAlive(pid) ? undefined : `the Kafka JVM (pid ${pid}) exited during startup`),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// RocketMQ
// ---------------------------------------------------------------------------------------------

const NAMESRV_MARKER = '-Dpubgate.broker=rocketmq-namesrv';
const PROXY_MARKER = '-Dpubgate.broker=rocketmq-proxy';

function rocketmqArtifacts(version: string): Artifact[] {
  return ['rocketmq-namesrv', 'rocketmq-proxy', 'rocketmq-tools'].map((artifactId) => ({
    groupId: 'org.apache.rocketmq',
    artifactId,
    version,
  }));
}

function rocketPaths() {
  const dir = brokerStateDir('rocketmq');
  const home = path.join(dir, 'home');
  return {
    dir,
    home,
    conf: path.join(home, 'conf'),
    brokerConf: path.join(home, 'conf', 'broker.conf'),
    namesrvConf: path.join(home, 'conf', 'namesrv.conf'),
    proxyConf: path.join(home, 'conf', 'rmq-proxy.json'),
    store: path.join(dir, 'store'),
    logs: path.join(dir, 'logs'),
    namesrvPid: path.join(dir, 'namesrv.pid'),
    proxyPid: path.join(dir, 'proxy.pid'),
    namesrvStdout: path.join(dir, 'logs', 'namesrv.stdout.log'),
    proxyStdout: path.join(dir, 'logs', 'proxy.stdout.log'),
  };
}

function rocketBrokerConf(store: string): string {
  return `# Generated by pubgate deploy/local/brokers.ts (rewritten on every start).
brokerClusterName=${ROCKETMQ_CLUSTER}
brokerName=${ROCKETMQ_BROKER_NAME}
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=ASYNC_FLUSH
namesrvAddr=${ROCKETMQ_NAMESRV}
brokerIP1=${HOST}
bindAddress=${HOST}
listenPort=${PORTS.rocketmqBroker}
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
storePathRootDir=${store}
storePathCommitLog=${path.join(store, 'commitlog')}
# Small mapped files for a development machine (defaults: 1 GiB commit log, 6 MB consume queue).
mappedFileSizeCommitLog=67108864
mappedFileSizeConsumeQueue=600000
deleteWhen=04
fileReservedTime=48
`;
}

function rocketNamesrvConf(): string {
  return `# Generated by pubgate deploy/local/brokers.ts.
listenPort=${PORTS.rocketmqNamesrv}
bindAddress=${HOST}
`;
}

function rocketProxyConf(): string {
  return `${JSON.stringify(
    {
      rocketMQClusterName: ROCKETMQ_CLUSTER,
      namesrvAddr: ROCKETMQ_NAMESRV,
      grpcServerPort: PORTS.rocketmqGrpc,
      // The proxy's remoting port defaults to 8080, the gateway's own default port.
      remotingListenPort: PORTS.rocketmqRemoting,
    },
    null,
    2,
  )}\n`;
}

function rocketEnv(): NodeJS.ProcessEnv {
  const p = rocketPaths();
  return { ...process.env, ROCKETMQ_HOME: p.home, RMQ_PROXY_HOME: p.home };
}

/** JVM flags common to the RocketMQ processes; logs go to <state>/rocketmq/logs/rocketmqlogs/. */
function rocketJvmFlags(): string[] {
  const p = rocketPaths();
  // RocketMQ's bundled logback configs write under ${user.home}/logs/rocketmqlogs.
  return [
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Duser.home=${p.dir}`,
    `-Drocketmq.home.dir=${p.home}`,
  ];
}

async function rocketNamesrvHealthy(): Promise<void> {
  if (!(await portOpen(PORTS.rocketmqNamesrv))) throw new Error(`nothing listens on ${ROCKETMQ_NAMESRV}`);
  await getClusterInfo(ROCKETMQ_NAMESRV, 3_000);
}

async function rocketHealthy(): Promise<void> {
  const brokers = await getClusterInfo(ROCKETMQ_NAMESRV, 3_000);
  const broker = brokers.find(
    (b) => b.cluster === ROCKETMQ_CLUSTER && b.brokerName === ROCKETMQ_BROKER_NAME && b.addresses.has(0),
  );
  if (!broker)
    throw new Error(
      `the NameServer has no master for ${ROCKETMQ_CLUSTER}/${ROCKETMQ_BROKER_NAME} registered yet`,
    );
  if (!(await portOpen(PORTS.rocketmqBroker)))
    throw new Error(`the broker's port ${PORTS.rocketmqBroker} is closed`);
  if (!(await portOpen(PORTS.rocketmqGrpc)))
    throw new Error(`the proxy's gRPC port ${PORTS.rocketmqGrpc} is closed`);
}

async function startRocketmq(progress: Progress): Promise<void> {
  const s = settings();
  const p = rocketPaths();
  const java = await requireJava('rocketmq');
  const libs = await ensureJars(
    'rocketmq',
    `rocketmq-${s.rocketmqVersion}`,
    rocketmqArtifacts(s.rocketmqVersion),
    progress,
  );
  await fs.mkdir(p.conf, { recursive: true });
  await fs.mkdir(p.store, { recursive: true });
  await fs.mkdir(p.logs, { recursive: true });
  await fs.writeFile(p.brokerConf, rocketBrokerConf(p.store));
  await fs.writeFile(p.namesrvConf, rocketNamesrvConf());
  await fs.writeFile(p.proxyConf, rocketProxyConf());
  const cp = `${libs}${path.sep}*`;
  const env = rocketEnv();

  if (
    !(await rocketNamesrvHealthy().then(
      () => true,
      () => false,
    ))
  ) {
    const existing = await livePid(p.namesrvPid, NAMESRV_MARKER);
    const reused =
      existing !== undefined &&
      (await awaitExisting('rocketmq NameServer', existing, rocketNamesrvHealthy, progress));
    if (!reused) {
      if (await portOpen(PORTS.rocketmqNamesrv)) {
        const holders = await listenerPids(PORTS.rocketmqNamesrv);
        throw new BrokerError(
          'rocketmq',
          `rocketmq: port ${PORTS.rocketmqNamesrv} is taken by a process this tool did not start${holders.length ? ` (pid ${holders.join(', ')})` : ''}, and it does not answer as a NameServer`,
        );
      }
      const child = await spawnDetached(
        java,
        [
          '-Xms128m',
          '-Xmx256m',
          ...rocketJvmFlags(),
          NAMESRV_MARKER,
          '-cp',
          cp,
          'org.apache.rocketmq.namesrv.NamesrvStartup',
          '-c',
          p.namesrvConf,
        ],
        { logFile: p.namesrvStdout, pidFile: p.namesrvPid, env, cwd: p.dir },
      );
      const pid = child.pid as number;
      progress(`rocketmq: NameServer started (pid ${pid}), waiting for ${ROCKETMQ_NAMESRV} ...`);
      await waitFor(
        'rocketmq NameServer',
        s.startTimeoutMs,
        async () => ((await rocketNamesrvHealthy().then(() => true)) ? true : undefined),
        {
          failFast: async () =>
            pidAlive(pid) ? undefined : `the NameServer JVM (pid ${pid}) exited during startup`,
        },
      );
    }
  }

  const existing = await livePid(p.proxyPid, PROXY_MARKER);
  if (existing !== undefined && (await awaitExisting('rocketmq', existing, rocketHealthy, progress))) return;
  if (await portOpen(PORTS.rocketmqGrpc)) {
    const holders = await listenerPids(PORTS.rocketmqGrpc);
    throw new BrokerError(
      'rocketmq',
      `rocketmq: port ${PORTS.rocketmqGrpc} is taken by a process this tool did not start${holders.length ? ` (pid ${holders.join(', ')})` : ''}, and it is not a healthy proxy`,
    );
  }
  const child = await spawnDetached(
    java,
    [
      '-Xms256m',
      '-Xmx512m',
      '-XX:MaxDirectMemorySize=512m',
      ...rocketJvmFlags(),
      PROXY_MARKER,
      '-cp',
      cp,
      'org.apache.rocketmq.proxy.ProxyStartup',
      '-pm',
      'local',
      '-bc',
      p.brokerConf,
      '-pc',
      p.proxyConf,
      '-n',
      ROCKETMQ_NAMESRV,
    ],
    { logFile: p.proxyStdout, pidFile: p.proxyPid, env, cwd: p.dir },
  );
  const proxyPid = child.pid as number;
  progress(
    `rocketmq: broker + proxy started (pid ${proxyPid}), waiting for gRPC ${HOST}:${PORTS.rocketmqGrpc} and the broker's registration ...`,
  );
  await waitFor(
    'rocketmq',
    s.startTimeoutMs,
    async () => ((await rocketHealthy().then(() => true)) ? true : undefined),
    {
      failFast: async () =>
        pidAlive(proxyPid) ? undefined : `the broker+proxy JVM (pid ${proxyPid}) exited during startup`,
    },
  );
}

export type RocketMessageType = 'NORMAL' | 'FIFO' | 'DELAY' | 'TRANSACTION';

export interface RocketTopicOptions {
  messageType: RocketMessageType;
  /** Read and write queue count (kept equal: the Node client misbehaves when they differ). Default 8, as mqadmin. */
  queues?: number;
  cluster?: string;
  /**
   * 'remoting' (default): the broker's own protocol from Node, a few ms per topic. 'mqadmin': runs
   * `MQAdminStartup updateTopic` in a JVM (about 2 s; the JVM is killed once it printed success).
   */
  via?: 'remoting' | 'mqadmin';
  /** Default 30 s. */
  timeoutMs?: number;
}

/**
 * Creates (or updates) a RocketMQ 5 topic with a message type, on every master of the cluster,
 * like `mqadmin updateTopic -n 127.0.0.1:9876 -c DefaultCluster -t <name> -r 8 -w 8 -a +message.type=<TYPE>`,
 * and resolves once the NameServer has a route for it (so a client can use it at once).
 */
export async function createRocketTopic(name: string, options: RocketTopicOptions): Promise<void> {
  const {
    messageType,
    queues = 8,
    cluster = ROCKETMQ_CLUSTER,
    via = 'remoting',
    timeoutMs = 30_000,
  } = options;
  if (!/^[%|a-zA-Z0-9_-]{1,127}$/.test(name)) {
    throw new Error(
      `invalid RocketMQ topic name "${name}": use letters, digits, '_', '-', '%', '|' (at most 127)`,
    );
  }
  if (!['NORMAL', 'FIFO', 'DELAY', 'TRANSACTION'].includes(messageType))
    throw new Error(`unknown message type ${String(messageType)}`);
  const deadline = Date.now() + timeoutMs;
  const attributes = `+message.type=${messageType}`;
  if (via === 'mqadmin') {
    const output = await rocketAdmin(
      [
        'updateTopic',
        '-n',
        ROCKETMQ_NAMESRV,
        '-c',
        cluster,
        '-t',
        name,
        '-r',
        String(queues),
        '-w',
        String(queues),
        '-a',
        attributes,
      ],
      { timeoutMs, untilOutput: /TopicConfig \[/ },
    );
    if (!/success/.test(output))
      throw new Error(`mqadmin updateTopic ${name} did not report success:\n${output}`);
  } else {
    const brokers = await getClusterInfo(ROCKETMQ_NAMESRV, 5_000);
    const masters = brokers
      .filter((b) => b.cluster === cluster)
      .flatMap((b) => (b.addresses.has(0) ? [b.addresses.get(0) as string] : []));
    if (masters.length === 0)
      throw new Error(
        `no RocketMQ master registered for cluster ${cluster} at ${ROCKETMQ_NAMESRV}; is RocketMQ up (npm run brokers:up)?`,
      );
    for (const address of masters) {
      await updateAndCreateTopic(
        address,
        { topic: name, readQueueNums: queues, writeQueueNums: queues, attributes },
        Math.max(1_000, deadline - Date.now()),
      );
    }
  }
  await waitFor(
    `RocketMQ route for topic ${name}`,
    Math.max(1_000, deadline - Date.now()),
    async () => ((await topicHasRoute(ROCKETMQ_NAMESRV, name)) ? true : undefined),
    { intervalMs: 100 },
  );
}

/**
 * Runs `mqadmin` (org.apache.rocketmq.tools.command.MQAdminStartup) with these arguments and
 * returns its output, e.g. `rocketAdmin(['topicList', '-n', '127.0.0.1:9876'])`. Each call starts
 * a JVM; the tool then idles ~5 s in its client shutdown (use `untilOutput` to stop it earlier).
 */
export async function rocketAdmin(
  args: readonly string[],
  { timeoutMs = 60_000, untilOutput }: { timeoutMs?: number; untilOutput?: RegExp } = {},
): Promise<string> {
  const s = settings();
  const java = await requireJava('rocketmq');
  const libs = await ensureJars(
    'rocketmq',
    `rocketmq-${s.rocketmqVersion}`,
    rocketmqArtifacts(s.rocketmqVersion),
    silent,
  );
  const result = await run(
    java,
    [
      '-Xmx128m',
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      `-Duser.home=${rocketPaths().dir}`,
      '-cp',
      `${libs}${path.sep}*`,
      'org.apache.rocketmq.tools.command.MQAdminStartup',
      ...args,
    ],
    { timeoutMs, env: rocketEnv(), untilOutput },
  );
  if (result.code !== 0)
    throw new Error(
      `mqadmin ${args.join(' ')} failed (exit ${result.code ?? result.signal}):\n${result.stdout}${result.stderr}`,
    );
  return result.stdout;
}

// ---------------------------------------------------------------------------------------------
// Machine services: RabbitMQ, PostgreSQL, Redis, NATS
// ---------------------------------------------------------------------------------------------

/** How the machine's nats-server (Debian's package) runs: JetStream on, its store and log. */
const NATS_SERVICE = {
  binary: '/usr/sbin/nats-server',
  storeDir: '/var/lib/nats-server',
  logFile: '/var/log/nats-server.log',
} as const;

function serviceHelp(name: BrokerName): string {
  const pkg = {
    rabbitmq: 'rabbitmq-server',
    postgres: 'postgresql',
    redis: 'redis-server',
    nats: 'nats-server',
    kafka: '',
    rocketmq: '',
  }[name];
  return `Install it (Debian/Ubuntu: apt-get install ${pkg}) or run it with Docker: docker compose -f deploy/compose/compose.yaml up -d ${name}`;
}

async function rabbitHealthy(): Promise<void> {
  const connection = await amqpConnect(`amqp://guest:guest@${HOST}:${PORTS.rabbitmq}`, { timeout: 5_000 });
  await connection.close();
}

/** A NATS connection that answers a JetStream API request (account info): JetStream is up. */
async function natsHealthy(): Promise<void> {
  const nc = await natsConnect({ servers: ADDRESSES.nats, timeout: 3_000, reconnect: false });
  try {
    await jetstreamManager(nc, { timeout: 3_000 });
  } finally {
    await nc.close().catch(() => {});
  }
}

async function postgresHealthy(): Promise<void> {
  if (await hasCommand('pg_isready')) {
    const result = await run('pg_isready', ['-h', HOST, '-p', String(PORTS.postgres), '-t', '3'], {
      timeoutMs: 10_000,
    });
    if (result.code !== 0) throw new Error(`pg_isready: ${(result.stdout + result.stderr).trim()}`);
    return;
  }
  if (!(await portOpen(PORTS.postgres))) throw new Error(`nothing listens on ${HOST}:${PORTS.postgres}`);
}

/** A RESP PING; "-NOAUTH" also proves the server is up. */
function redisHealthy(): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = createConnection({ host: HOST, port: PORTS.redis });
    let reply = '';
    const done = (error?: Error): void => {
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    socket.setTimeout(3_000, () => done(new Error('no PING reply within 3 s')));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        if (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')) done();
        else done(new Error(`unexpected PING reply ${JSON.stringify(reply.trim())}`));
      }
    });
    socket.once('error', (error) => done(error));
  });
}

async function postgresVersion(): Promise<string | undefined> {
  try {
    const versions = (await fs.readdir('/etc/postgresql')).filter((v) => /^\d+(\.\d+)?$/.test(v));
    versions.sort((a, b) => Number(b) - Number(a));
    return versions[0];
  } catch {
    return undefined;
  }
}

async function rabbitNodeRunning(): Promise<boolean> {
  if (!(await hasCommand('rabbitmqctl'))) return false;
  const result = await run('rabbitmqctl', ['ping'], { timeoutMs: 30_000 }).catch(() => undefined);
  return result?.code === 0;
}

async function recordStart(name: BrokerName, command: string, result: RunResult): Promise<void> {
  const file = path.join(brokerStateDir(name), 'start.log');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.appendFile(
    file,
    `[${new Date().toISOString()}] $ ${command} (exit ${result.code})\n${result.stdout}${result.stderr}\n`,
  );
}

async function startService(name: BrokerName, progress: Progress): Promise<void> {
  const s = settings();
  let command: string;
  let args: string[];
  switch (name) {
    case 'rabbitmq': {
      if (!(await hasCommand('rabbitmq-server')) && !(await hasCommand('rabbitmqctl'))) {
        throw new BrokerError(
          name,
          `rabbitmq: nothing answers on ${HOST}:${PORTS.rabbitmq} and RabbitMQ is not installed here (no rabbitmq-server command), so it cannot be started. ${serviceHelp(name)}`,
        );
      }
      if (await rabbitNodeRunning()) {
        // The node is alive but the app is stopped (stopBroker('rabbitmq') uses stop_app).
        command = 'rabbitmqctl';
        args = ['start_app'];
      } else {
        command = 'rabbitmq-server';
        args = ['-detached'];
      }
      break;
    }
    case 'postgres': {
      const version = await postgresVersion();
      if (!(await hasCommand('pg_ctlcluster')) || !version) {
        throw new BrokerError(
          name,
          `postgres: nothing answers on ${HOST}:${PORTS.postgres} and no PostgreSQL cluster is installed here (pg_ctlcluster / /etc/postgresql missing), so it cannot be started. ${serviceHelp(name)}`,
        );
      }
      command = 'pg_ctlcluster';
      args = ['--skip-systemctl-redirect', version, 'main', 'start'];
      break;
    }
    case 'redis': {
      if (!(await hasCommand('redis-server'))) {
        throw new BrokerError(
          name,
          `redis: nothing answers on ${HOST}:${PORTS.redis} and redis-server is not installed here, so it cannot be started. ${serviceHelp(name)}`,
        );
      }
      const fallback = brokerStateDir('redis');
      await fs.mkdir(fallback, { recursive: true });
      const dir = existsSync('/var/lib/redis') ? '/var/lib/redis' : fallback;
      const logfile = existsSync('/var/log/redis')
        ? '/var/log/redis/ci.log'
        : path.join(fallback, 'redis.log');
      command = 'redis-server';
      args = [
        '--daemonize',
        'yes',
        '--bind',
        '127.0.0.1',
        '-::1',
        '--port',
        String(PORTS.redis),
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--logfile',
        logfile,
      ];
      break;
    }
    case 'nats': {
      // start-stop-daemon --exec wants a path: Debian's, else the first nats-server on PATH.
      const binary = [
        NATS_SERVICE.binary as string,
        ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'nats-server')),
      ].find((candidate) => path.isAbsolute(candidate) && existsSync(candidate));
      if (binary === undefined || !(await hasCommand('start-stop-daemon'))) {
        throw new BrokerError(
          name,
          `nats: nothing answers on ${HOST}:${PORTS.nats} and nats-server (or start-stop-daemon) is not installed here, so NATS cannot be started. ${serviceHelp(name)}`,
        );
      }
      await fs.mkdir(NATS_SERVICE.storeDir, { recursive: true });
      command = 'start-stop-daemon';
      // Starts nats-server in the background (it does not daemonize itself); --oknodo: an already
      // running one is fine. JetStream on (-js), its store in -sd.
      args = [
        '--start',
        '--oknodo',
        '--background',
        '--exec',
        binary,
        '--',
        '-a',
        HOST,
        '-p',
        String(PORTS.nats),
        '-js',
        '-sd',
        NATS_SERVICE.storeDir,
        '-l',
        NATS_SERVICE.logFile,
      ];
      break;
    }
    default:
      throw new Error(`${name} is not a machine service`);
  }
  progress(`${name}: not answering; running ${command} ${args.join(' ')} ...`);
  let result: RunResult;
  try {
    // Wrapped: the service daemonizes, and must not keep our caller's descriptors open.
    const [file, argv] = withoutInheritedFds(command, args);
    result = await run(file, argv, { timeoutMs: Math.min(s.startTimeoutMs, 120_000) });
  } catch (error) {
    throw new BrokerError(
      name,
      `${name}: ${command} ${args.join(' ')} failed: ${error instanceof Error ? error.message : String(error)}`,
      await brokerLogTail(name),
    );
  }
  await recordStart(name, `${command} ${args.join(' ')}`, result);
  if (result.code !== 0) {
    throw new BrokerError(
      name,
      `${name}: ${command} ${args.join(' ')} exited with ${result.code}`,
      `${result.stdout}${result.stderr}`.trim() || (await brokerLogTail(name)),
    );
  }
  await waitFor(
    name,
    s.startTimeoutMs,
    async () => ((await HEALTH[name]().then(() => true)) ? true : undefined),
    { intervalMs: 1_000 },
  );
}

// ---------------------------------------------------------------------------------------------
// Per-broker dispatch: health, pids, start, stop
// ---------------------------------------------------------------------------------------------

const HEALTH: Record<BrokerName, () => Promise<void>> = {
  kafka: () => kafkaHealthy(),
  rocketmq: () => rocketHealthy(),
  rabbitmq: () => rabbitHealthy(),
  postgres: () => postgresHealthy(),
  redis: () => redisHealthy(),
  nats: () => natsHealthy(),
};

/** Ports that must be closed for a broker to count as stopped. */
const PORTS_OF: Record<BrokerName, number[]> = {
  kafka: [PORTS.kafka, PORTS.kafkaController, PORTS.kafkaProxied],
  rocketmq: [PORTS.rocketmqGrpc, PORTS.rocketmqRemoting, PORTS.rocketmqBroker, PORTS.rocketmqNamesrv],
  rabbitmq: [PORTS.rabbitmq],
  postgres: [PORTS.postgres],
  redis: [PORTS.redis],
  nats: [PORTS.nats],
};

/** The processes of a broker, main one first (for RocketMQ: broker+proxy, then NameServer). */
async function brokerPids(name: BrokerName): Promise<number[]> {
  switch (name) {
    case 'kafka': {
      const pid = await livePid(kafkaPaths().pidFile, KAFKA_MARKER);
      if (pid !== undefined) return [pid];
      return listenerPids(PORTS.kafka);
    }
    case 'rocketmq': {
      const p = rocketPaths();
      const proxy = (await livePid(p.proxyPid, PROXY_MARKER)) ?? (await listenerPids(PORTS.rocketmqGrpc))[0];
      const namesrv =
        (await livePid(p.namesrvPid, NAMESRV_MARKER)) ?? (await listenerPids(PORTS.rocketmqNamesrv))[0];
      return [proxy, namesrv].filter((pid): pid is number => pid !== undefined);
    }
    case 'rabbitmq': {
      // beam.smp holds the AMQP port; after stop_app only the distribution port (25672).
      const pids = [
        ...(await listenerPids(PORTS.rabbitmq)),
        ...(await listenerPids(20_000 + PORTS.rabbitmq)),
      ];
      const beam = pids.find((pid) =>
        (readFileSyncSafe(`/proc/${pid}/comm`) ?? '').trim().startsWith('beam'),
      );
      return beam !== undefined ? [beam] : [...new Set(pids)].slice(0, 1);
    }
    case 'postgres': {
      // The postmaster is the process that listens (its children are the backends).
      const pids = await listenerPids(PORTS.postgres);
      return [...new Set(pids)].slice(0, 1);
    }
    case 'redis':
      return (await listenerPids(PORTS.redis)).slice(0, 1);
    case 'nats': {
      const listening = await listenerPids(PORTS.nats);
      if (listening.length > 0) return listening.slice(0, 1);
      // Not listening (yet, or any more): the daemon by name, as `pidof nats-server` names it.
      const result = await run('pidof', ['nats-server'], { timeoutMs: 5_000 }).catch(() => undefined);
      return (result?.stdout ?? '')
        .trim()
        .split(/\s+/)
        .filter((pid) => /^\d+$/.test(pid))
        .map(Number)
        .slice(0, 1);
    }
  }
}

export interface BrokerStatus {
  name: BrokerName;
  /** Address for status output. */
  address: string;
  up: boolean;
  /** Main process id (JVM; beam.smp; postmaster; redis-server), when known. */
  pid: number | null;
  /** All processes (RocketMQ: broker+proxy, NameServer). */
  pids: number[];
  /** Started and stopped by this tool (Kafka, RocketMQ) rather than a machine service. */
  managed: boolean;
  /** True when the main process is stopped by SIGSTOP (freezeBroker). */
  frozen: boolean;
  /** Why it counts as down. */
  reason?: string;
}

/** Health and processes of one broker; never throws. */
export async function brokerStatus(name: BrokerName): Promise<BrokerStatus> {
  const pids = await brokerPids(name).catch(() => []);
  const frozen = pids.some((pid) => procState(pid) === 'T');
  let up = false;
  let reason: string | undefined;
  if (frozen) {
    reason = 'frozen (SIGSTOP); thawBroker() resumes it';
  } else {
    try {
      await withTimeout(HEALTH[name](), 10_000, `${name} health check`);
      up = true;
    } catch (error) {
      reason = error instanceof Error ? error.message : String(error);
    }
  }
  return {
    name,
    address: STATUS_ADDRESSES[name],
    up,
    pid: pids[0] ?? null,
    pids,
    managed: MANAGED_BROKERS.includes(name),
    frozen,
    ...(reason !== undefined ? { reason } : {}),
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface StartOptions {
  /** Progress lines (the CLI prints them); silent by default. */
  onProgress?: (message: string) => void;
}

/** Starts a broker if it is not healthy and resolves once it is (bounded by the start timeout). */
export async function startBroker(name: BrokerName, options: StartOptions = {}): Promise<BrokerStatus> {
  const progress = options.onProgress ?? silent;
  const s = settings();
  const started = Date.now();
  const lockTimeout = s.downloadTimeoutMs + 2 * s.startTimeoutMs;
  try {
    await withLock(path.join(brokerStateDir(name), 'start.lock'), lockTimeout, async () => {
      // A frozen broker never becomes healthy: resume it.
      const current = await brokerPids(name).catch(() => []);
      if (current.some((pid) => procState(pid) === 'T')) {
        progress(`${name}: was frozen (SIGSTOP); resuming it`);
        await thawBroker(name);
      }
      if (
        await HEALTH[name]().then(
          () => true,
          () => false,
        )
      )
        return;
      if (name === 'kafka') {
        await startKafka(progress);
      } else if (name === 'rocketmq') {
        await startRocketmq(progress);
      } else {
        await startService(name, progress);
      }
    });
  } catch (error) {
    if (error instanceof BrokerError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof MissingCommandError) {
      throw new BrokerError(name, `${name}: ${message}`);
    }
    const detail = message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message;
    throw new BrokerError(name, `${name} did not come up: ${detail}`, await brokerLogTail(name));
  }
  const status = await brokerStatus(name);
  if (!status.up) {
    throw new BrokerError(
      name,
      `${name} did not stay up: ${status.reason ?? 'unknown'}`,
      await brokerLogTail(name),
    );
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  progress(
    `${name}: up on ${status.address}${status.pid ? ` (pid ${status.pids.join(', ')})` : ''} [${seconds} s]`,
  );
  return status;
}

/**
 * Makes sure the named brokers (default: all six) are up, starting only what is missing.
 * Kafka and RocketMQ start concurrently (PUBGATE_BROKERS_SEQUENTIAL=1 starts one after another).
 * Rejects with a BrokersError naming each broker that failed, with its log tail.
 */
export async function ensureBrokers(
  names: readonly BrokerName[] = BROKER_NAMES,
  options: StartOptions = {},
): Promise<BrokerStatus[]> {
  const unique = [...new Set(names)];
  for (const name of unique)
    if (!isBrokerName(name))
      throw new Error(`unknown broker "${String(name)}"; known: ${BROKER_NAMES.join(', ')}`);
  const results: PromiseSettledResult<BrokerStatus>[] = [];
  if (settings().sequential) {
    for (const name of unique) results.push(...(await Promise.allSettled([startBroker(name, options)])));
  } else {
    results.push(...(await Promise.allSettled(unique.map((name) => startBroker(name, options)))));
  }
  const failures: BrokerError[] = [];
  const statuses: BrokerStatus[] = [];
  results.forEach((result, i) => {
    const name = unique[i] as BrokerName;
    if (result.status === 'fulfilled') statuses.push(result.value);
    else
      failures.push(
        result.reason instanceof BrokerError
          ? result.reason
          : new BrokerError(name, `${name}: ${String(result.reason)}`),
      );
  });
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new BrokersError(failures);
  return statuses;
}

export type KillSignal = 'SIGTERM' | 'SIGKILL';

export interface StopOptions {
  /**
   * 'SIGTERM' (default): a clean stop. 'SIGKILL': a crash.
   * For RabbitMQ, SIGTERM means `rabbitmqctl stop_app` (the Erlang node stays alive, the AMQP
   * listener closes; startBroker runs `start_app`), SIGKILL kills beam.smp (startBroker then runs
   * `rabbitmq-server -detached`). PostgreSQL: `pg_ctlcluster ... stop -m fast` / kill -9 postmaster.
   * An AbortSignal passed here is accepted too and treated like `abort`.
   */
  signal?: KillSignal | AbortSignal;
  /** Aborts the waiting (the broker may then be half stopped). */
  abort?: AbortSignal;
  /** Grace period before SIGKILL, and bound on the wait for the ports to close (default PUBGATE_STOP_TIMEOUT_MS). */
  timeoutMs?: number;
}

async function signalPids(pids: readonly number[], signal: NodeJS.Signals): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
}

async function waitPortsClosed(
  name: BrokerName,
  ports: readonly number[],
  timeoutMs: number,
  abort?: AbortSignal,
): Promise<void> {
  await waitFor(
    `${name}: ports ${ports.join(', ')} to close`,
    timeoutMs,
    async () => {
      abort?.throwIfAborted();
      for (const port of ports) if (await portOpen(port, HOST, 500)) return undefined;
      return true;
    },
    { intervalMs: 200 },
  );
}

/** Sends `signal` to the processes, waits up to `graceMs` for them to exit, then SIGKILLs them. */
async function terminate(
  pids: readonly number[],
  signal: KillSignal,
  graceMs: number,
  abort?: AbortSignal,
): Promise<void> {
  if (pids.length === 0) return;
  await signalPids(pids, signal);
  await signalPids(pids, 'SIGCONT'); // a frozen process would not act on SIGTERM
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(pidAlive)) {
    abort?.throwIfAborted();
    await sleep(200);
  }
  const left = pids.filter(pidAlive);
  if (left.length > 0) {
    await signalPids(left, 'SIGKILL');
    await waitFor(
      `processes ${left.join(', ')} to die`,
      10_000,
      async () => (left.some(pidAlive) ? undefined : true),
      { intervalMs: 100 },
    );
  }
}

/** Stops a broker and resolves once its ports are closed. */
export async function stopBroker(name: BrokerName, options: StopOptions = {}): Promise<void> {
  const s = settings();
  const kill: KillSignal = typeof options.signal === 'string' ? options.signal : 'SIGTERM';
  const abort = options.abort ?? (typeof options.signal === 'object' ? options.signal : undefined);
  const graceMs = options.timeoutMs ?? s.stopTimeoutMs;
  const ports = PORTS_OF[name];
  try {
    switch (name) {
      case 'kafka': {
        const p = kafkaPaths();
        const pid = await livePid(p.pidFile, KAFKA_MARKER);
        if (pid === undefined && (await listenerPids(PORTS.kafka)).length > 0) {
          throw new BrokerError(
            name,
            `kafka: the process on port ${PORTS.kafka} was not started by this tool (no live pid in ${p.pidFile}); not stopping it`,
          );
        }
        if (pid !== undefined) await terminate([pid], kill, graceMs, abort);
        await fs.rm(p.pidFile, { force: true });
        break;
      }
      case 'rocketmq': {
        const p = rocketPaths();
        // Broker+proxy first (it deregisters from the NameServer), then the NameServer.
        const proxy = await livePid(p.proxyPid, PROXY_MARKER);
        if (proxy !== undefined) await terminate([proxy], kill, graceMs, abort);
        await fs.rm(p.proxyPid, { force: true });
        const namesrv = await livePid(p.namesrvPid, NAMESRV_MARKER);
        if (namesrv !== undefined) await terminate([namesrv], kill, graceMs, abort);
        await fs.rm(p.namesrvPid, { force: true });
        break;
      }
      case 'rabbitmq': {
        if (kill === 'SIGTERM') {
          const result = await run('rabbitmqctl', ['stop_app'], { timeoutMs: graceMs + 30_000 });
          await recordStart(name, 'rabbitmqctl stop_app', result);
          if (result.code !== 0)
            throw new Error(
              `rabbitmqctl stop_app exited with ${result.code}: ${result.stdout}${result.stderr}`,
            );
        } else {
          const pids = await brokerPids(name);
          await terminate(pids, 'SIGKILL', graceMs, abort);
        }
        break;
      }
      case 'postgres': {
        const version = await postgresVersion();
        if (kill === 'SIGTERM' && version && (await hasCommand('pg_ctlcluster'))) {
          const result = await run(
            'pg_ctlcluster',
            ['--skip-systemctl-redirect', version, 'main', 'stop', '-m', 'fast'],
            { timeoutMs: graceMs + 30_000 },
          );
          await recordStart(name, `pg_ctlcluster ${version} main stop`, result);
          if (result.code !== 0 && (await portOpen(PORTS.postgres)))
            throw new Error(
              `pg_ctlcluster stop exited with ${result.code}: ${result.stdout}${result.stderr}`,
            );
        } else {
          await terminate(await brokerPids(name), kill, graceMs, abort);
        }
        break;
      }
      case 'redis':
      case 'nats':
        // nats-server shuts down cleanly on SIGTERM (its streams are on disk); SIGKILL is a crash.
        await terminate(await brokerPids(name), kill, graceMs, abort);
        break;
    }
    await fs.rm(path.join(brokerStateDir(name), 'frozen.json'), { force: true });
    await waitPortsClosed(name, ports, graceMs + 10_000, abort);
  } catch (error) {
    if (error instanceof BrokerError) throw error;
    if (error instanceof MissingCommandError)
      throw new BrokerError(name, `${name}: cannot stop it: ${error.message}`);
    throw new BrokerError(
      name,
      `${name}: stopping failed: ${error instanceof Error ? error.message : String(error)}`,
      await brokerLogTail(name),
    );
  }
}

/** stopBroker (SIGTERM) then startBroker; resolves when healthy again. */
export async function restartBroker(
  name: BrokerName,
  options: StartOptions & { signal?: KillSignal } = {},
): Promise<BrokerStatus> {
  await stopBroker(name, { signal: options.signal ?? 'SIGTERM' });
  return startBroker(name, options);
}

/**
 * SIGSTOPs a broker's main process and its children (Kafka: the JVM; RocketMQ: the broker+proxy
 * JVM, not the NameServer; RabbitMQ: beam.smp; PostgreSQL: the postmaster and its backends;
 * Redis: redis-server; NATS: nats-server). Connections stay open but nothing answers. Returns the pids frozen.
 */
export async function freezeBroker(name: BrokerName): Promise<number[]> {
  const main = (await brokerPids(name))[0];
  if (main === undefined) throw new BrokerError(name, `${name}: no running process found to freeze`);
  const pids = await processTree(main);
  await fs.mkdir(brokerStateDir(name), { recursive: true });
  await fs.writeFile(path.join(brokerStateDir(name), 'frozen.json'), JSON.stringify(pids));
  await signalPids(pids, 'SIGSTOP');
  await waitFor(
    `${name}: pid ${main} to stop`,
    5_000,
    async () => (procState(main) === 'T' || procState(main) === undefined ? true : undefined),
    { intervalMs: 50 },
  );
  return pids;
}

/** SIGCONTs what freezeBroker stopped (or the broker's current processes). Returns the pids resumed. */
export async function thawBroker(name: BrokerName): Promise<number[]> {
  const file = path.join(brokerStateDir(name), 'frozen.json');
  let pids: number[] = [];
  try {
    const parsed: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
    if (Array.isArray(parsed)) pids = parsed.filter((p): p is number => typeof p === 'number');
  } catch {
    const main = (await brokerPids(name))[0];
    if (main !== undefined) pids = await processTree(main);
  }
  await signalPids(pids.filter(pidAlive), 'SIGCONT');
  await fs.rm(file, { force: true });
  return pids;
}

/** Stops the managed brokers (Kafka, RocketMQ) or, if named, those brokers (machine services too). */
export async function stopBrokers(
  names: readonly BrokerName[] = MANAGED_BROKERS,
  options: StopOptions = {},
): Promise<void> {
  const results = await Promise.allSettled([...new Set(names)].map((name) => stopBroker(name, options)));
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected'
      ? [
          r.reason instanceof BrokerError
            ? r.reason
            : new BrokerError(names[i] as BrokerName, String(r.reason)),
        ]
      : [],
  );
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new BrokersError(failures);
}
