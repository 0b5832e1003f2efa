import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { PublishContext } from '../core/index.js';
import { createApiKeyPolicy } from './api-key.policy.js';

const hashed = `sha256:${createHash('sha256').update('hashed-key').digest('hex')}`;
const policy = createApiKeyPolicy({ tenants: { a: { keys: [hashed] }, b: { keys: ['plain-key'] } } });

function context(authorization?: string): PublishContext {
  return {
    requestId: 'r',
    operation: 'publish',
    topic: 't',
    headerNames: [],
    ...(authorization === undefined ? {} : { authorization }),
  };
}

describe('API key authentication', () => {
  it('maps a hashed or plaintext configured key to its tenant', async () => {
    const a = context('Bearer hashed-key');
    assert.deepEqual(await policy.evaluate(a), { ok: true });
    assert.deepEqual(a.principal, { tenant: 'a', method: 'api-key' });
    const b = context('bearer plain-key');
    assert.deepEqual(await policy.evaluate(b), { ok: true });
    assert.equal(b.principal?.tenant, 'b');
  });

  it('refuses a missing, malformed or unknown credential with a Bearer challenge', async () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer a b',
      'Basic aGk=',
      'Bearer wrong',
      `Bearer ${hashed}`,
    ]) {
      const ctx = context(header);
      const outcome = await policy.evaluate(ctx);
      assert.equal(outcome.ok, false, String(header));
      if (!outcome.ok) {
        assert.equal(outcome.rejection.reason, 'unauthenticated');
        assert.match(outcome.rejection.headers?.['WWW-Authenticate'] ?? '', /^Bearer realm="pubgate"/);
      }
      assert.equal(ctx.principal, undefined);
    }
  });
});
