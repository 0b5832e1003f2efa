import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PublishContext } from '../core/index.js';
import { createAuthPolicy } from './auth.policy.js';

function context(authorization: string | undefined, clientAddress = '10.0.0.1'): PublishContext {
  return {
    requestId: 'r',
    operation: 'publish',
    topic: 't',
    headerNames: [],
    clientAddress,
    ...(authorization === undefined ? {} : { authorization }),
  };
}

describe('authentication with a failed-attempt limit', () => {
  const policy = createAuthPolicy({
    tenants: { a: { keys: ['key-a'] } },
    failures: { maxFailures: 3, windowSeconds: 60 },
  });

  it('answers 429 with agreeing headers after maxFailures, per client address', async () => {
    for (let i = 0; i < 3; i++) {
      const outcome = await policy.evaluate(context(`Bearer wrong-${'x'.repeat(i * 50)}`));
      assert.equal(!outcome.ok && outcome.rejection.reason, 'unauthenticated');
    }
    // Blocked now, even with the right key: a guesser learns nothing while blocked.
    const blocked = await policy.evaluate(context('Bearer key-a'));
    assert.equal(blocked.ok, false);
    if (!blocked.ok) {
      assert.equal(blocked.rejection.reason, 'too-many-auth-failures');
      const headers = blocked.rejection.headers!;
      assert.equal(headers['RateLimit-Policy'], '"auth-failures";q=3;w=60');
      const t = /;t=(\d+)$/.exec(headers.RateLimit!)?.[1];
      assert.equal(t, headers['Retry-After']);
      assert.equal(Number(t), blocked.rejection.retryAfterSeconds);
    }
    // Another address is not affected.
    const other = context('Bearer key-a', '10.0.0.2');
    assert.deepEqual(await policy.evaluate(other), { ok: true });
    assert.equal(other.principal?.tenant, 'a');
  });

  it('counts missing credentials as failures too, and successes not at all', async () => {
    const fresh = createAuthPolicy({
      tenants: { a: { keys: ['key-a'] } },
      failures: { maxFailures: 2, windowSeconds: 60 },
    });
    for (let i = 0; i < 5; i++) assert.equal((await fresh.evaluate(context('Bearer key-a', 'c'))).ok, true);
    await fresh.evaluate(context(undefined, 'c'));
    await fresh.evaluate(context('Basic abc', 'c'));
    const outcome = await fresh.evaluate(context('Bearer key-a', 'c'));
    assert.equal(!outcome.ok && outcome.rejection.reason, 'too-many-auth-failures');
  });
});
