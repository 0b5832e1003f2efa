/** Starts a real gateway in this process on a free port, with its embedded broker in a temp dir. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

export async function startGateway(
  config: Record<string, unknown> = embeddedConfig(),
  options: { dir?: string; logger?: Logger } = {},
): Promise<TestGateway> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'pubgate-test-'));
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
  const loaded = loadConfig({ argv: ['--config', file], env: {} });
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

export function auth(key = DEV_KEY): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}
