/** Starts a real gateway in this process on a free port, with its embedded broker in a temp dir. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { silentLogger, type Logger } from '../../adapters/core/index.js';
import { loadConfig } from '../../gateway/config/load.js';
import { createGateway, type Gateway } from '../../gateway/gateway.js';

export interface TestGateway {
  readonly url: string;
  readonly dir: string;
  readonly gateway: Gateway;
  stop(): Promise<void>;
}

export const DEV_KEY = 'dev-key';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The development default, written as a file, in a fresh directory; `patch` overrides parts. */
export function embeddedConfig(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    brokers: { local: { kind: 'embedded', dir: './data' } },
    routes: [{ topic: '**', target: 'local' }],
    tenants: { dev: { keys: [DEV_KEY], topics: ['**'] } },
    ...patch,
  };
}

/**
 * Writes `config` as the gateway's file in `dir` (pubgate.yaml), embedded broker dirs made
 * absolute under `dir`; returns the file. Writing it again changes a running gateway's config.
 */
export function writeGatewayConfig(dir: string, config: Record<string, unknown>): string {
  const file = path.join(dir, 'pubgate.yaml');
  // Relative paths resolve against the working directory; keep every test's data in its own dir.
  const brokers = Object.fromEntries(
    Object.entries((config.brokers ?? {}) as Record<string, Record<string, unknown>>).map(
      ([name, broker]) => [
        name,
        typeof broker.dir === 'string' && !path.isAbsolute(broker.dir)
          ? { ...broker, dir: path.join(dir, broker.dir) }
          : broker,
      ],
    ),
  );
  writeFileSync(file, stringify({ ...config, brokers }));
  return file;
}

export async function startGateway(
  config: Record<string, unknown> = embeddedConfig(),
  options: { dir?: string; logger?: Logger } = {},
): Promise<TestGateway> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'pubgate-test-'));
  const file = writeGatewayConfig(dir, config);
  // Relative store paths (outbox, idempotency) resolve against the test's own directory too.
  const loaded = loadConfig({ argv: ['--config', file], env: {}, cwd: dir });
  const gateway = createGateway(loaded, { logger: options.logger ?? silentLogger });
  const { url } = await gateway.start();
  return {
    url,
    dir,
    gateway,
    async stop() {
      await gateway.stop();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Gateways a test file starts and stops together: `start` is startGateway, `stopAll` (for
 * `after`) stops every one started.
 */
export function gatewaySet() {
  const running: TestGateway[] = [];
  return {
    async start(config: Record<string, unknown>): Promise<TestGateway> {
      const gw = await startGateway(config);
      running.push(gw);
      return gw;
    },
    stopAll: () => Promise.all(running.map((gw) => gw.stop())),
  };
}

export type ExampleGateway = TestGateway & { readonly loaded: ReturnType<typeof loadConfig> };

/**
 * Starts a gateway in this process on an example config (`deploy/config/<example>`), as a user
 * would run it, in a fresh directory (its ./data), on a free port, logging nothing.
 */
export async function startExampleGateway(
  example: string,
  env: Record<string, string> = {},
): Promise<ExampleGateway> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-example-'));
  const loaded = loadConfig({
    argv: ['--config', path.join(ROOT, 'deploy/config', example)],
    env: { PORT: '0', PUBGATE_LOG_LEVEL: 'silent', ...env },
    cwd: dir,
  });
  const gateway = createGateway(loaded, { logger: silentLogger });
  try {
    const { url } = await gateway.start();
    return {
      url,
      dir,
      gateway,
      loaded,
      async stop() {
        await gateway.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

export function auth(key = DEV_KEY): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}
