import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyOutcome, PublishContext } from '../core/index.js';
import { createQuotaPolicy, type TenantQuota } from './quota.policy.js';

function context(tenant: string, topic = 'a.t', messages?: number, bytes?: number): PublishContext {
  return {
    requestId: 'r',
    operation: 'publish',
    topic,
    headerNames: [],
    principal: { tenant, method: 'api-key' },
    ...(messages === undefined ? {} : { messages }),
    ...(bytes === undefined ? {} : { bytes }),
  };
}

function memoryPolicy(tenants: Record<string, TenantQuota>) {
  return createQuotaPolicy({ tenants, store: { kind: 'memory' } });
}

function assertAgreeing(outcome: PolicyOutcome, policy: string): void {
  assert.equal(outcome.ok, false);
  if (outcome.ok) return;
  assert.equal(outcome.rejection.reason, 'quota-exceeded');
  const headers = outcome.rejection.headers!;
  assert.match(headers['RateLimit-Policy']!, new RegExp(`^"${policy}";q=\\d+;w=\\d+$`));
  const t = /^"[^"]+";r=(\d+);t=(\d+)$/.exec(headers.RateLimit!);
  assert.ok(t, headers.RateLimit);
  assert.equal(t[2], headers['Retry-After']);
  assert.equal(Number(t[2]), outcome.rejection.retryAfterSeconds);
}

describe('quota policy', () => {
  it('limits requests per tenant, independently of other tenants', async () => {
    const policy = memoryPolicy({ small: { requests: { points: 3, windowSeconds: 10 } } });
    const results = [];
    for (let i = 0; i < 5; i++) results.push((await policy.evaluate(context('small'))).ok);
    assert.deepEqual(results, [true, true, true, false, false]);
    assertAgreeing(await policy.evaluate(context('small')), 'requests');
    // A tenant without a quota, or without a principal, is not limited here.
    for (let i = 0; i < 10; i++) assert.equal((await policy.evaluate(context('other'))).ok, true);
  });

  it('counts each message of a batch and the body bytes, after the body is read', async () => {
    const policy = memoryPolicy({
      t: { messages: { points: 10, windowSeconds: 10 }, bytes: { points: 1000, windowSeconds: 10 } },
    });
    assert.equal((await policy.evaluateContent!(context('t', 'a.t', 6, 100))).ok, true);
    const over = await policy.evaluateContent!(context('t', 'a.t', 6, 100));
    assertAgreeing(over, 'messages');
    assert.equal((await policy.evaluateContent!(context('t', 'a.t', 4, 100))).ok, true);
    // The bytes limit refuses; the messages it would have used are given back.
    const fresh = memoryPolicy({
      t: { messages: { points: 10, windowSeconds: 10 }, bytes: { points: 1000, windowSeconds: 10 } },
    });
    assert.equal((await fresh.evaluateContent!(context('t', 'a.t', 1, 900))).ok, true);
    assertAgreeing(await fresh.evaluateContent!(context('t', 'a.t', 5, 200)), 'bytes');
    assert.equal((await fresh.evaluateContent!(context('t', 'a.t', 9, 50))).ok, true);
  });

  it('refuses at once what could never fit, without using up the window', async () => {
    const policy = memoryPolicy({ t: { messages: { points: 10, windowSeconds: 1 } } });
    const outcome = await policy.evaluateContent!(context('t', 'a.t', 11, 1));
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.match(outcome.rejection.detail, /more than tenant t's whole quota/);
    assert.equal((await policy.evaluateContent!(context('t', 'a.t', 10, 1))).ok, true);
  });

  it('allows a burst above the rate from a pool, then holds to the rate', async () => {
    const policy = memoryPolicy({ t: { requests: { points: 2, windowSeconds: 10, burst: 5 } } });
    const results = [];
    for (let i = 0; i < 7; i++) results.push((await policy.evaluate(context('t'))).ok);
    assert.deepEqual(results, [true, true, true, true, true, false, false]);
  });

  it('applies a per-topic limit in addition to the tenant quota', async () => {
    const policy = memoryPolicy({
      t: {
        requests: { points: 100, windowSeconds: 10 },
        topics: [{ topic: 'slow.*', requests: { points: 1, windowSeconds: 10 } }],
      },
    });
    assert.equal((await policy.evaluate(context('t', 'slow.a'))).ok, true);
    assertAgreeing(await policy.evaluate(context('t', 'slow.b')), 'topic-requests');
    assert.equal((await policy.evaluate(context('t', 'fast.a'))).ok, true);
  });

  it('with Redis unreachable, the in-memory insurance limiter still limits', async () => {
    // A client that is never ready: rate-limiter-flexible goes straight to the insurance limiter.
    const client = { status: 'reconnecting', defineCommand() {} };
    const policy = createQuotaPolicy({
      tenants: { t: { requests: { points: 2, windowSeconds: 10 } } },
      store: { kind: 'redis', client, keyPrefix: 'test' },
    });
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await policy.evaluate(context('t'))).ok);
    assert.deepEqual(results, [true, true, false, false]);
  });
});
