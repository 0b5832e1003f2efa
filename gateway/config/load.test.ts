import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './load.js';

function write(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-config-'));
  const file = path.join(dir, 'pubgate.yaml');
  writeFileSync(file, yaml);
  return file;
}

const MINIMAL = `
brokers:
  local: { kind: embedded }
routes:
  - topic: "**"
    target: local
tenants:
  t1:
    keys: ["sha256:${'a'.repeat(64)}"]
    topics: ["**"]
`;

describe('config loading', () => {
  it('without a file runs the development default with its warning', () => {
    const loaded = loadConfig({ argv: [], env: {} });
    assert.equal(loaded.source, undefined);
    assert.equal(loaded.config.server.host, '127.0.0.1');
    assert.equal(loaded.config.server.port, 8080);
    assert.deepEqual(Object.keys(loaded.config.brokers), ['local']);
    assert.equal(loaded.config.brokers.local?.kind, 'embedded');
    assert.equal((loaded.config.brokers.local as { dir?: string }).dir, './data');
    assert.deepEqual(loaded.config.tenants.dev?.keys, ['dev-key']);
    assert.equal(loaded.warnings.length, 1);
    assert.match(loaded.warnings[0]!, /dev-key.*development-only/);
  });

  it('PORT overrides the development default port', () => {
    assert.equal(loadConfig({ argv: [], env: { PORT: '9191' } }).config.server.port, 9191);
    assert.throws(() => loadConfig({ argv: [], env: { PORT: 'eighty' } }), ConfigError);
  });

  it('reads --config, --config=, and PUBGATE_CONFIG, in that order of precedence', () => {
    const file = write(MINIMAL);
    assert.equal(loadConfig({ argv: ['--config', file], env: {} }).source, file);
    assert.equal(loadConfig({ argv: [`--config=${file}`], env: {} }).source, file);
    assert.equal(loadConfig({ argv: [], env: { PUBGATE_CONFIG: file } }).source, file);
    assert.throws(() => loadConfig({ argv: ['--config'], env: {} }), /needs a file path/);
  });

  it('applies defaults and freezes the result deeply', () => {
    const { config } = loadConfig({ argv: ['--config', write(MINIMAL)], env: {} });
    assert.equal(config.server.publishTimeoutMs, 10_000);
    assert.equal(config.routes[0]!.maxBodyBytes, 1024 * 1024);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.routes[0]!.contentTypes));
    assert.throws(() => {
      (config.server as { port: number }).port = 1;
    }, TypeError);
  });

  it('rejects unknown keys loudly, naming where they are', () => {
    const file = write(MINIMAL.replace('routes:', 'rootes: []\nroutes:'));
    assert.throws(() => loadConfig({ argv: ['--config', file], env: {} }), /rootes/);
    const nested = write(MINIMAL.replace('target: local', 'target: local\n    tagret: x'));
    assert.throws(() => loadConfig({ argv: ['--config', nested], env: {} }), /routes\.\[0\]|tagret/);
  });

  it('rejects a route to an unknown broker target and duplicate keys across tenants', () => {
    assert.throws(
      () =>
        loadConfig({
          argv: ['--config', write(MINIMAL.replace('target: local', 'target: nowhere'))],
          env: {},
        }),
      /unknown broker target "nowhere"/,
    );
    const dup = write(`${MINIMAL}  t2:\n    keys: ["sha256:${'a'.repeat(64)}"]\n    topics: ["x"]\n`);
    assert.throws(() => loadConfig({ argv: ['--config', dup], env: {} }), /also listed for tenant "t1"/);
  });

  it('rejects a relay lease no longer than the publish deadline', () => {
    const file = write(
      `${MINIMAL}reliability:\n  relay:\n    leaseMs: 5000\nserver:\n  publishTimeoutMs: 5000\n`,
    );
    assert.throws(
      () => loadConfig({ argv: ['--config', file], env: {} }),
      /leaseMs[\s\S]*must exceed server\.publishTimeoutMs/,
    );
  });

  it('rejects an unknown broker kind and a bad topic pattern', () => {
    assert.throws(
      () =>
        loadConfig({ argv: ['--config', write(MINIMAL.replace('kind: embedded', 'kind: kafkaa'))], env: {} }),
      ConfigError,
    );
    assert.throws(
      () =>
        loadConfig({ argv: ['--config', write(MINIMAL.replace('topic: "**"', 'topic: "a..b"'))], env: {} }),
      /topic pattern/,
    );
  });

  it('interpolates ${VAR} and ${VAR:-default}, and fails on a missing variable', () => {
    const yaml = MINIMAL.replace(
      'brokers:',
      'server:\n  port: ${GW_PORT:-7070}\n  host: "${GW_HOST}"\nbrokers:',
    );
    const file = write(yaml);
    const loaded = loadConfig({ argv: ['--config', file], env: { GW_HOST: '0.0.0.0' } });
    assert.equal(loaded.config.server.port, 7070);
    assert.equal(loaded.config.server.host, '0.0.0.0');
    assert.equal(
      loadConfig({ argv: ['--config', file], env: { GW_HOST: 'h', GW_PORT: '7171' } }).config.server.port,
      7171,
    );
    assert.throws(() => loadConfig({ argv: ['--config', file], env: {} }), /GW_HOST is not set/);
  });

  it('warns about plaintext API keys in a file', () => {
    const file = write(MINIMAL.replace(`"sha256:${'a'.repeat(64)}"`, 'plain-key'));
    const loaded = loadConfig({ argv: ['--config', file], env: {} });
    assert.match(loaded.warnings.join('\n'), /plaintext API key/);
  });

  it('reports invalid YAML and a missing file as ConfigError', () => {
    assert.throws(() => loadConfig({ argv: ['--config', write('a: [1,')], env: {} }), /invalid YAML/);
    assert.throws(
      () => loadConfig({ argv: ['--config', '/nonexistent/pubgate.yaml'], env: {} }),
      /cannot read/,
    );
  });
});
