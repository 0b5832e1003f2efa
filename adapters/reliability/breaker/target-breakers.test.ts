import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, it } from 'node:test';
import {
  createTargetBreakers,
  type BreakerOptions,
  type BreakerTransition,
  type TargetBreakers,
} from './index.js';

const FAST: BreakerOptions = {
  errorThresholdPercentage: 50,
  volumeThreshold: 4,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  resetTimeoutMs: 150,
};

type Answer = 'ok' | 'broker-down' | 'caller-error';
const isFailure = (answer: Answer) => answer === 'broker-down';

describe('target breakers', () => {
  let breakers: TargetBreakers | undefined;
  afterEach(() => breakers?.close());

  function create(transitions: BreakerTransition[] = []) {
    breakers = createTargetBreakers({ a: FAST, b: FAST }, { onTransition: (t) => transitions.push(t) });
    return breakers;
  }

  it('passes answers through while closed, counted failures included', async () => {
    const b = create();
    assert.deepEqual(await b.run('a', async () => 'ok' as Answer, isFailure), { ok: true, value: 'ok' });
    assert.deepEqual(await b.run('a', async () => 'broker-down' as Answer, isFailure), {
      ok: true,
      value: 'broker-down',
    });
    assert.equal(b.state('a'), 'closed');
  });

  it('opens after enough broker failures and then answers without calling the action', async () => {
    const transitions: BreakerTransition[] = [];
    const b = create(transitions);
    for (let i = 0; i < 4; i++) await b.run('a', async () => 'broker-down' as Answer, isFailure);
    assert.equal(b.state('a'), 'open');
    assert.deepEqual(transitions, [{ target: 'a', from: 'closed', to: 'open' }]);

    let called = false;
    const outcome = await b.run(
      'a',
      async () => {
        called = true;
        return 'ok' as Answer;
      },
      isFailure,
    );
    assert.equal(called, false);
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok && outcome.retryAfterMs > 0 && outcome.retryAfterMs <= FAST.resetTimeoutMs);
    // Another target is not affected.
    assert.equal(b.state('b'), 'closed');
    assert.equal(b.snapshot().a!.state, 'open');
    assert.ok(b.snapshot().a!.probeAt! > Date.now() - 1);
  });

  it('never opens on caller errors, however many', async () => {
    const b = create();
    for (let i = 0; i < 20; i++) await b.run('a', async () => 'caller-error' as Answer, isFailure);
    assert.equal(b.state('a'), 'closed');
  });

  it('counts a rejected action as a failure and rethrows it', async () => {
    const b = create();
    for (let i = 0; i < 4; i++) {
      await assert.rejects(
        b.run('a', () => Promise.reject(new Error('boom')), isFailure),
        /boom/,
      );
    }
    assert.equal(b.state('a'), 'open');
  });

  it('lets one probe through after the reset timeout: success closes, failure re-opens', async () => {
    const transitions: BreakerTransition[] = [];
    const b = create(transitions);
    for (let i = 0; i < 4; i++) await b.run('a', async () => 'broker-down' as Answer, isFailure);
    await sleep(FAST.resetTimeoutMs + 50);
    assert.equal(b.state('a'), 'half-open');
    assert.deepEqual(await b.run('a', async () => 'broker-down' as Answer, isFailure), {
      ok: true,
      value: 'broker-down',
    });
    assert.equal(b.state('a'), 'open');

    await sleep(FAST.resetTimeoutMs + 50);
    assert.equal(b.state('a'), 'half-open');
    // While the probe is in flight, others are refused.
    let release!: () => void;
    const probe = b.run('a', () => new Promise<Answer>((r) => (release = () => r('ok'))), isFailure);
    const other = await b.run('a', async () => 'ok' as Answer, isFailure);
    assert.equal(other.ok, false);
    release();
    assert.deepEqual(await probe, { ok: true, value: 'ok' });
    assert.equal(b.state('a'), 'closed');
    assert.deepEqual(
      transitions.map((t) => t.to),
      ['open', 'half-open', 'open', 'half-open', 'closed'],
    );
  });

  it('carries an open breaker over to the next generation when its options are unchanged', async () => {
    const slow = { ...FAST, resetTimeoutMs: 60_000 };
    const first = createTargetBreakers({ a: slow, b: slow, c: slow });
    for (const target of ['a', 'b']) {
      for (let i = 0; i < 4; i++) await first.run(target, async () => 'broker-down' as Answer, isFailure);
    }
    const carried = first.carryOver();
    first.close();
    assert.equal(carried.a?.state, 'open');
    assert.equal(carried.c?.state, 'closed');

    const transitions: BreakerTransition[] = [];
    // a: same options → still open; b: its options changed → a fresh, closed breaker.
    breakers = createTargetBreakers(
      { a: slow, b: { ...slow, volumeThreshold: 8 }, c: slow },
      { carried, onTransition: (t) => transitions.push(t) },
    );
    assert.equal(breakers.state('a'), 'open');
    assert.equal(breakers.state('b'), 'closed');
    assert.equal(breakers.state('c'), 'closed');
    let called = false;
    const outcome = await breakers.run(
      'a',
      async () => {
        called = true;
        return 'ok' as Answer;
      },
      isFailure,
    );
    assert.equal(called, false, 'the carried-over open breaker does not call the broker');
    assert.ok(!outcome.ok && outcome.retryAfterMs > 0);
    assert.ok(breakers.snapshot().a?.probeAt !== undefined);
    assert.deepEqual(transitions, [], 'starting in the carried state is not a transition');
  });

  it('a carried-over open breaker still probes after its reset timeout', async () => {
    const first = createTargetBreakers({ a: FAST });
    for (let i = 0; i < 4; i++) await first.run('a', async () => 'broker-down' as Answer, isFailure);
    const carried = first.carryOver();
    first.close();
    breakers = createTargetBreakers({ a: FAST }, { carried });
    assert.equal(breakers.state('a'), 'open');
    await sleep(FAST.resetTimeoutMs + 50);
    assert.deepEqual(await breakers.run('a', async () => 'ok' as Answer, isFailure), {
      ok: true,
      value: 'ok',
    });
    assert.equal(breakers.state('a'), 'closed');
  });

  it('close() is idempotent', () => {
    const b = create();
    b.close();
    b.close();
  });
});

describe('target breakers: disabled targets', () => {
  it('a target with enabled: false runs every call and never opens', async () => {
    const b = createTargetBreakers({ off: { ...FAST, enabled: false } });
    try {
      let calls = 0;
      for (let i = 0; i < 10; i++) {
        const outcome = await b.run(
          'off',
          async () => {
            calls++;
            return 'broker-down' as Answer;
          },
          isFailure,
        );
        assert.deepEqual(outcome, { ok: true, value: 'broker-down' });
      }
      assert.equal(calls, 10);
      assert.equal(b.state('off'), 'closed');
      assert.equal(b.retryAfterMs('off'), 0);
      assert.equal(b.snapshot().off!.enabled, false);
    } finally {
      b.close();
    }
  });
});
