import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from './schema.js';

const base = {
  brokers: { local: { kind: 'embedded', dir: './data' } },
  routes: [{ topic: '**', target: 'local' }],
};

function parse(tenant: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return configSchema.safeParse({
    ...base,
    tenants: { t: { keys: ['k'], topics: ['**'], ...tenant } },
    ...extra,
  });
}

describe('tenant quota and auth configuration', () => {
  it('reads readable rates and sizes, and plain numbers per second', () => {
    const result = parse({
      quota: { rate: '600/min', burst: 700, messages: 50, bytes: '5MB/s', concurrency: 3 },
    });
    assert.ok(result.success, result.error?.message);
    const quota = result.data.tenants.t!.quota!;
    assert.deepEqual(quota.rate, { points: 600, windowSeconds: 60 });
    assert.deepEqual(quota.messages, { points: 50, windowSeconds: 1 });
    assert.deepEqual(quota.bytes, { points: 5_000_000, windowSeconds: 1 });
    assert.equal(result.data.tenants.t!.priority, 'normal');
    const binary = parse({ quota: { bytes: '512KiB/30s', rate: '20/30s' } });
    assert.ok(binary.success);
    assert.deepEqual(binary.data.tenants.t!.quota!.bytes, { points: 524_288, windowSeconds: 30 });
    assert.deepEqual(binary.data.tenants.t!.quota!.rate, { points: 20, windowSeconds: 30 });
  });

  it('refuses bad rates, a burst below the rate, and a tenant that could never sign in', () => {
    for (const quota of [
      { rate: '10 per second' },
      { rate: '5MB/s' },
      { bytes: '5XB/s' },
      { rate: '0/s' },
      { rate: 10, burst: 5 },
      { burst: 5 },
    ]) {
      assert.equal(parse({ quota }).success, false, JSON.stringify(quota));
    }
    assert.equal(parse({ keys: [] }).success, false);
    assert.equal(parse({ priority: 'urgent' }).success, false);
    assert.equal(parse({ namespace: 'amq' }).success, false);
  });

  it('accepts JWT issuers with exactly one key source, asymmetric algorithms only', () => {
    const issuer = { issuer: 'https://i/', audience: 'a', algorithms: ['RS256'], jwksUri: 'https://i/jwks' };
    assert.ok(parse({ keys: [] }, { auth: { jwt: [issuer] } }).success);
    assert.equal(parse({}, { auth: { jwt: [{ ...issuer, algorithms: ['HS256'] }] } }).success, false);
    assert.equal(parse({}, { auth: { jwt: [{ ...issuer, algorithms: ['none'] }] } }).success, false);
    assert.equal(parse({}, { auth: { jwt: [{ ...issuer, jwksFile: 'x.json' }] } }).success, false);
    assert.equal(
      parse({}, { auth: { jwt: [{ ...issuer, jwksUri: 'http://example.com/jwks' }] } }).success,
      false,
    );
    assert.ok(parse({}, { auth: { jwt: [{ ...issuer, jwksUri: 'http://127.0.0.1:9/jwks' }] } }).success);
  });

  it('stores.quotas is memory by default, redis with a URL', () => {
    assert.deepEqual(parse({}).data?.stores.quotas, { kind: 'memory' });
    const redis = parse({}, { stores: { quotas: { kind: 'redis', url: 'redis://127.0.0.1:6379' } } });
    assert.ok(redis.success);
    assert.equal(
      redis.data.stores.quotas.kind === 'redis' && redis.data.stores.quotas.keyPrefix,
      'pubgate:quota',
    );
    assert.equal(parse({}, { stores: { quotas: { kind: 'redis' } } }).success, false);
  });
});
