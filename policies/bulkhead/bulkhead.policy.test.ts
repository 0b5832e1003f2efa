import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCleanup, type PublishContext } from '../core/index.js';
import { createBulkheadPolicy } from './bulkhead.policy.js';

function context(tenant: string): PublishContext {
  return {
    requestId: 'r',
    operation: 'publish',
    topic: 't',
    headerNames: [],
    principal: { tenant, method: 'api-key' },
    cleanup: [],
  };
}

describe('per-tenant bulkhead', () => {
  it('admits up to the limit, refuses the next with 429 headers, and frees a slot on release', async () => {
    const policy = createBulkheadPolicy({ tenants: { a: { concurrency: 2 }, b: {} } });
    const first = context('a');
    const second = context('a');
    assert.equal((await policy.evaluate(first)).ok, true);
    assert.equal((await policy.evaluate(second)).ok, true);
    const third = await policy.evaluate(context('a'));
    assert.equal(third.ok, false);
    if (!third.ok) {
      assert.equal(third.rejection.reason, 'tenant-busy');
      assert.equal(third.rejection.headers?.['RateLimit-Policy'], '"concurrency";q=2');
      assert.equal(third.rejection.headers?.RateLimit, '"concurrency";r=0;t=1');
      assert.equal(third.rejection.retryAfterSeconds, 1);
    }
    // Another tenant is isolated from a's load; a tenant without a limit is never refused.
    for (let i = 0; i < 50; i++) assert.equal((await policy.evaluate(context('b'))).ok, true);
    runCleanup(first);
    runCleanup(first); // releasing twice frees one slot only
    assert.equal((await policy.evaluate(context('a'))).ok, true);
    assert.equal((await policy.evaluate(context('a'))).ok, false);
  });
});
