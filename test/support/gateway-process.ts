/**
 * The gateway as a child process (`node --import tsx gateway/main.ts --config <tmp yaml>`), so a
 * test can SIGKILL, SIGTERM or SIGHUP it like an orchestrator would, or run several side by side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from './ports.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = import.meta.resolve('tsx');

export interface GatewayProcess {
  readonly url: string;
  readonly dir: string;
  readonly logs: string[];
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited(): Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
  /** SIGKILLs it if still running; removes its directory unless it was given. Idempotent. */
  dispose(): Promise<void>;
}

/**
 * Writes `config` (plus server port and host) as YAML into a fresh directory, starts the gateway
 * there and resolves once /livez answers. `dir` reuses a directory (e.g. the outbox after a crash).
 */
export async function startGatewayProcess(
  config: Record<string, unknown>,
  options: {
    dir?: string;
    readyTimeoutMs?: number;
    /**
     * Written verbatim as the config file instead of `config` (e.g. a copy of an example config);
     * its port must come from `${PORT}`, which the process gets in its environment.
     */
    yamlText?: string;
  } = {},
): Promise<GatewayProcess> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'pubgate-process-'));
  const port = await freePort();
  const server = { ...(config.server as object | undefined), host: '127.0.0.1', port };
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, options.yamlText ?? stringify({ ...config, server }));
  const child = spawn(
    process.execPath,
    ['--import', TSX, path.join(root, 'gateway/main.ts'), '--config', file],
    {
      cwd: dir,
      env: { ...process.env, PUBGATE_CONFIG: '', NODE_OPTIONS: '', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: string[] = [];
  const keep = (chunk: Buffer) => {
    logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (logs.length > 2000) logs.splice(0, logs.length - 2000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exit = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const url = `http://127.0.0.1:${port}`;
  let disposed = false;
  const handle: GatewayProcess = {
    url,
    dir,
    logs,
    child,
    exited: () => exit,
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      handle.kill('SIGKILL');
      await exit;
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`gateway exited early:\n${logs.slice(-30).join('\n')}`);
    }
    try {
      if ((await fetch(`${url}/livez`, { signal: AbortSignal.timeout(1_000) })).ok) return handle;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await handle.dispose();
  throw new Error(`gateway did not answer /livez in time:\n${logs.slice(-30).join('\n')}`);
}

/** Resolves once `GET /readyz` answers 200 (every broker target connected, or degradable). */
export async function waitForReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3_000) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`gateway at ${url} not ready within ${timeoutMs} ms: ${last}`);
}
