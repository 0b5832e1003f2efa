/**
 * Integration with the machine's Redis (127.0.0.1:6379): quotas shared by gateway replicas.
 *  - Two gateway processes on one Redis key prefix enforce one quota together.
 *  - With Redis unreachable, each gateway falls back to its in-memory insurance limiter: the
 *    quota still holds (per process) instead of failing open or failing every request.
 *  - Failed authentications from one address are counted once across the replicas.
 * Each run uses its own key prefix; nothing else in Redis is touched.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { auth, embeddedConfig, startGateway } from '../support/gateway.js';
import { startGatewayProcess } from '../support/gateway-process.js';
import { freePort } from '../support/ports.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

function publish(url: string, i: number) {
  return fetch(`${url}/v1/topics/shared.t/messages`, {
    method: 'POST',
    headers: { ...auth('shared-key'), 'content-type': 'application/json' },
    body: JSON.stringify({ i }),
  }).then(async (res) => {
    await res.arrayBuffer();
    return res.status;
  });
}

describe('quotas shared in Redis', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-quota-redis-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('two gateway processes on one key prefix enforce one quota together', async () => {
    const QUOTA = 20;
    const keyPrefix = `pubgate-test:quota:${randomUUID()}`;
    const config = embeddedConfig({
      brokers: { local: { kind: 'embedded', dir: path.join(dir, 'data') } },
      stores: { quotas: { kind: 'redis', url: REDIS_URL, keyPrefix } },
      tenants: {
        // A 60 s window: the whole test runs inside one window, so the expected total is exact.
        shared: { keys: ['shared-key'], topics: ['shared.*'], quota: { rate: `${QUOTA}/60s` } },
      },
    });
    // Two processes, two embedded stores: only the quota is shared.
    const [a, b] = await Promise.all(
      ['a', 'b'].map((name) =>
        startGatewayProcess({
          ...config,
          brokers: { local: { kind: 'embedded', dir: path.join(dir, `data-${name}`) } },
        }),
      ),
    );
    try {
      const N = 60;
      const statuses = await Promise.all(
        Array.from({ length: N }, (_, i) => publish(i % 2 === 0 ? a!.url : b!.url, i)),
      );
      const accepted = statuses.filter((s) => s === 201).length;
      const perGateway = [0, 1].map((side) => statuses.filter((s, i) => i % 2 === side && s === 201).length);
      assert.equal(accepted + statuses.filter((s) => s === 429).length, N, `statuses: ${statuses.join(',')}`);
      // Stated tolerance: 0. Redis counts atomically (one Lua script per request), refused requests
      // give their unit back, and the window does not end during the test: exactly QUOTA pass.
      assert.equal(accepted, QUOTA, `accepted ${accepted} (per gateway ${perGateway.join(' + ')})`);
      assert.ok(
        perGateway.every((n) => n > 0),
        'both gateways admitted some: the quota is shared, not split',
      );
    } finally {
      await Promise.all([a!, b!].map((p) => p.dispose()));
    }
  });

  it('with Redis unreachable, the insurance limiter still limits (per process)', async () => {
    const unused = await freePort();
    const gw = await startGateway(
      embeddedConfig({
        stores: {
          quotas: {
            kind: 'redis',
            url: `redis://127.0.0.1:${unused}`,
            keyPrefix: `pubgate-test:${randomUUID()}`,
            connectTimeoutMs: 200,
          },
        },
        tenants: { shared: { keys: ['shared-key'], topics: ['shared.*'], quota: { rate: '5/60s' } } },
      }),
    );
    try {
      const statuses = [];
      for (let i = 0; i < 12; i++) statuses.push(await publish(gw.url, i));
      assert.deepEqual(statuses, [...Array(5).fill(201), ...Array(7).fill(429)]);
    } finally {
      await gw.stop();
    }
  });

  it('failed authentications are counted once for all replicas sharing Redis', async () => {
    const keyPrefix = `pubgate-test:auth:${randomUUID()}`;
    const config = (name: string) =>
      embeddedConfig({
        brokers: { local: { kind: 'embedded', dir: path.join(dir, `auth-${name}`) } },
        stores: { quotas: { kind: 'redis', url: REDIS_URL, keyPrefix } },
        auth: { failures: { maxFailures: 4, windowSeconds: 60 } },
      });
    const [a, b] = await Promise.all([startGateway(config('a')), startGateway(config('b'))]);
    const attempt = (url: string, key: string) =>
      fetch(`${url}/v1/topics/shared.t/messages`, {
        method: 'POST',
        headers: { ...auth(key), 'content-type': 'application/json' },
        body: '{}',
      }).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      });
    try {
      // Two wrong guesses on each replica: four in all, the shared limit.
      const guesses = [];
      for (const url of [a.url, b.url, a.url, b.url]) guesses.push(await attempt(url, 'wrong-key'));
      assert.deepEqual(guesses, [401, 401, 401, 401]);
      // Each replica alone has seen only two, yet both now block this address, even a valid key.
      assert.equal(await attempt(a.url, 'dev-key'), 429);
      assert.equal(await attempt(b.url, 'dev-key'), 429);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
