import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCleanup, type PublishContext } from '../core/index.js';
import { createLoadShedPolicy } from './load-shed.policy.js';
import { createLoadShedder, DEFAULT_LOAD_SHED_OPTIONS, type DelaySampler } from './load-shedder.js';

const quietLoop: DelaySampler = { sample: () => 0, close() {} };

function context(tenant: string | undefined): PublishContext {
  return {
    requestId: 'r',
    operation: 'publish',
    topic: 't',
    headerNames: [],
    cleanup: [],
    ...(tenant === undefined ? {} : { principal: { tenant, method: 'api-key' as const } }),
  };
}

function setup() {
  const shedder = createLoadShedder(
    { ...DEFAULT_LOAD_SHED_OPTIONS, maxInFlight: 10, retryAfterSeconds: 3 },
    { sampler: quietLoop },
  );
  const shed: string[] = [];
  const policy = createLoadShedPolicy(
    { tenants: { bulk: { priority: 'low' }, vip: { priority: 'high' }, std: { priority: 'normal' } } },
    { shedder, onShed: (tenant, priority) => shed.push(`${tenant}:${priority}`) },
  );
  return { shedder, policy, shed };
}

describe('load-shed policy', () => {
  it('sheds low-priority tenants first and answers with Retry-After', async () => {
    const { shedder, policy, shed } = setup();
    const held: PublishContext[] = [];
    for (let i = 0; i < 6; i++) {
      const c = context('vip');
      assert.equal((await policy.evaluate(c)).ok, true);
      held.push(c);
    }
    const low = await policy.evaluate(context('bulk'));
    assert.equal(low.ok, false);
    if (!low.ok) {
      assert.equal(low.rejection.reason, 'overloaded');
      assert.equal(low.rejection.retryAfterSeconds, 3);
      assert.match(low.rejection.detail, /low-priority/);
    }
    assert.equal((await policy.evaluate(context('std'))).ok, true, 'normal still admitted at 60%');
    assert.deepEqual(shed, ['bulk:low']);
    shedder.close();
  });

  it('releases the slot when the request is done, once', async () => {
    const { shedder, policy } = setup();
    const c = context('std');
    assert.equal((await policy.evaluate(c)).ok, true);
    assert.equal(shedder.inFlight(), 1);
    runCleanup(c);
    runCleanup(c);
    assert.equal(shedder.inFlight(), 0);
    shedder.close();
  });

  it('treats a tenant without a configured priority as normal, and passes unauthenticated requests', async () => {
    const { shedder, policy } = setup();
    const held = [];
    for (let i = 0; i < 8; i++) held.push(await policy.evaluate(context('vip')));
    assert.equal((await policy.evaluate(context('unknown'))).ok, true, 'normal admitted below 85%');
    assert.equal((await policy.evaluate(context('unknown'))).ok, false, 'normal shed at 90%');
    assert.equal((await policy.evaluate(context(undefined))).ok, true);
    assert.equal(shedder.inFlight(), 9);
    shedder.close();
  });

  it('keeps counting requests in flight across a reconfigure', async () => {
    const { shedder, policy } = setup();
    const c = context('vip');
    await policy.evaluate(c);
    shedder.reconfigure({ ...DEFAULT_LOAD_SHED_OPTIONS, maxInFlight: 1 });
    assert.equal(shedder.inFlight(), 1);
    assert.equal((await policy.evaluate(context('bulk'))).ok, false, '1/1 is past low 0.6');
    runCleanup(c);
    assert.equal((await policy.evaluate(context('bulk'))).ok, true);
    shedder.close();
  });
});
