/** The Redis idempotency store against the machine's Redis (own key prefix), and with Redis unreachable. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { silentLogger } from '../../adapters/core/index.js';
import { createIdempotency } from '../../policies/idempotency/index.js';
import { createRedisIdempotencyStore } from '../../adapters/reliability/idempotency/redis-idempotency-store.js';

const prefix = `pubgate-test:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}:`;
const request = (fingerprint: string) => ({
  tenant: 'acme',
  method: 'POST',
  path: '/p',
  key: 'k',
  fingerprint,
});

describe('Redis idempotency store', () => {
  const store = createRedisIdempotencyStore(
    { url: 'redis://127.0.0.1:6379', keyPrefix: prefix, commandTimeoutMs: 1_000 },
    { logger: silentLogger },
  );
  after(async () => {
    await store.close();
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('50 concurrent begins: one proceeds; then replay, mismatch, and release after 5xx', async () => {
    await store.open();
    const idempotency = createIdempotency({ retentionMs: 60_000, lockTtlMs: 10_000 }, { store });
    const decisions = await Promise.all(Array.from({ length: 50 }, () => idempotency.begin(request('fp'))));
    const winners = decisions.filter((d) => d.kind === 'proceed');
    assert.equal(winners.length, 1);
    assert.equal(decisions.filter((d) => d.kind === 'in-flight').length, 49);
    assert.equal((await idempotency.begin(request('other'))).kind, 'mismatch');
    const response = { status: 201, headers: { location: '/v1/messages/x' }, body: '{"id":"x"}' };
    if (winners[0]!.kind === 'proceed') assert.equal((await winners[0]!.finish(response)).kind, 'ok');
    assert.deepEqual(await idempotency.begin(request('fp')), { kind: 'replay', response });

    const second = createIdempotency({ retentionMs: 60_000, lockTtlMs: 10_000 }, { store });
    const fresh = await second.begin({ ...request('fp2'), key: 'k2' });
    assert.equal(fresh.kind, 'proceed');
    if (fresh.kind === 'proceed') await fresh.finish({ status: 503, headers: {}, body: '{}' });
    assert.equal((await second.begin({ ...request('fp2'), key: 'k2' })).kind, 'proceed');
  });

  it('Redis unreachable → unavailable (the gateway answers 503), never a silent pass', async () => {
    const down = createRedisIdempotencyStore(
      { url: 'redis://127.0.0.1:1', keyPrefix: prefix, commandTimeoutMs: 300 },
      { logger: silentLogger },
    );
    await down.open();
    const idempotency = createIdempotency({ retentionMs: 60_000, lockTtlMs: 10_000 }, { store: down });
    assert.equal((await idempotency.begin(request('fp'))).kind, 'unavailable');
    await down.close();
  });
});
