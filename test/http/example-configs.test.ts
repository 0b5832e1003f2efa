/** Every example in deploy/config/ is a valid config, with tenant dev / key dev-key and a route for every topic. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../gateway/config/load.js';
import { createRouter } from '../../gateway/routing.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/config');
const devKey = `sha256:${createHash('sha256').update('dev-key').digest('hex')}`;

describe('example configs', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

  it('include one per broker and one with all of them', () => {
    for (const name of ['embedded', 'kafka', 'rabbitmq', 'rocketmq', 'all']) {
      assert.ok(files.includes(`${name}.yaml`), `deploy/config/${name}.yaml is missing`);
    }
  });

  for (const file of files) {
    it(`${file} loads, with tenant dev (dev-key) and a route for any topic`, () => {
      const { config } = loadConfig({ argv: ['--config', path.join(dir, file)], env: {} });
      assert.deepEqual(config.tenants.dev?.keys, [devKey]);
      assert.ok(createRouter(config.routes).resolve('demo.orders'), 'no route for demo.orders');
      assert.equal(config.server.port, 8080);
    });
  }

  it('all.yaml routes by prefix to each broker kind', () => {
    const { config } = loadConfig({ argv: ['--config', path.join(dir, 'all.yaml')], env: {} });
    const router = createRouter(config.routes);
    const kindOf = (topic: string) => config.brokers[router.resolve(topic)!.target]!.kind;
    assert.equal(kindOf('kafka.orders'), 'kafka');
    assert.equal(kindOf('rabbit.orders'), 'rabbitmq');
    assert.equal(kindOf('rocket.orders'), 'rocketmq');
    assert.equal(kindOf('demo.orders'), 'embedded');
  });
});
