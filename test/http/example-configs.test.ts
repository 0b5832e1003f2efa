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
    for (const name of ['embedded', 'kafka', 'rabbitmq', 'rocketmq', 'nats', 'all']) {
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

  it('quotas.yaml has tenants small (small-key, 10 requests/s, small.*) and big (big-key, big.*)', () => {
    const { config } = loadConfig({ argv: ['--config', path.join(dir, 'quotas.yaml')], env: {} });
    const sha = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
    assert.deepEqual(config.tenants.small?.keys, [sha('small-key')]);
    assert.deepEqual(config.tenants.small?.topics, ['small.*']);
    assert.deepEqual(config.tenants.small?.quota?.rate, { points: 10, windowSeconds: 1 });
    assert.deepEqual(config.tenants.big?.keys, [sha('big-key')]);
    assert.deepEqual(config.tenants.big?.topics, ['big.*']);
    assert.ok((config.tenants.big?.quota?.rate?.points ?? 0) >= 1000);
    assert.equal(config.brokers.local?.kind, 'embedded');
  });

  it('degrade.yaml has spool.*, failover.* (then the embedded broker) and reject.* on RabbitMQ', () => {
    const { config } = loadConfig({ argv: ['--config', path.join(dir, 'degrade.yaml')], env: {} });
    const router = createRouter(config.routes);
    const spool = router.resolve('spool.x')!;
    const failover = router.resolve('failover.x')!;
    const reject = router.resolve('reject.x')!;
    assert.equal(config.brokers[spool.target]!.kind, 'rabbitmq');
    assert.equal(spool.route.degrade, 'spool');
    assert.equal(failover.route.degrade, 'failover');
    assert.deepEqual(
      failover.candidates.map((t) => config.brokers[t]!.kind),
      ['rabbitmq', 'embedded'],
    );
    assert.equal(config.brokers[reject.target]!.kind, 'rabbitmq');
    assert.equal(reject.route.degrade, 'reject');
  });

  it('all.yaml routes by prefix to each broker kind', () => {
    const { config } = loadConfig({ argv: ['--config', path.join(dir, 'all.yaml')], env: {} });
    const router = createRouter(config.routes);
    const kindOf = (topic: string) => config.brokers[router.resolve(topic)!.target]!.kind;
    assert.equal(kindOf('kafka.orders'), 'kafka');
    assert.equal(kindOf('rabbit.orders'), 'rabbitmq');
    assert.equal(kindOf('rocket.orders'), 'rocketmq');
    assert.equal(kindOf('nats.orders'), 'nats');
    assert.equal(kindOf('demo.orders'), 'embedded');
  });
});
