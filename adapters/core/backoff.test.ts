import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffCeiling, backoffDelay } from './backoff.js';

describe('backoff', () => {
  const curve = { initialDelayMs: 500, maxDelayMs: 30_000 };
  const almostOne = () => 0.999999;

  it('doubles the ceiling per failed try up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 6, 7, 50].map((attempt) => backoffCeiling(attempt, curve)),
      [500, 1000, 2000, 4000, 16_000, 30_000, 30_000],
    );
    assert.equal(backoffCeiling(0, curve), 500, 'attempts below 1 count as the first');
    assert.equal(backoffCeiling(Number.MAX_SAFE_INTEGER, curve), 30_000, 'no overflow for huge counts');
  });

  it('full jitter draws from [0, ceiling)', () => {
    assert.equal(backoffDelay(1, curve, almostOne), 499);
    assert.equal(backoffDelay(4, curve, almostOne), 3999);
    assert.equal(backoffDelay(50, curve, almostOne), 29_999);
    assert.equal(
      backoffDelay(3, curve, () => 0),
      0,
    );
    for (let attempt = 1; attempt < 20; attempt++) {
      const delay = backoffDelay(attempt, curve);
      assert.ok(delay >= 0 && delay < backoffCeiling(attempt, curve));
    }
  });

  it('a spread keeps the wait within ±spread of the ceiling', () => {
    const spread = { ...curve, jitter: { spread: 0.2 } } as const;
    assert.equal(
      backoffDelay(2, spread, () => 0),
      800,
    );
    assert.equal(
      backoffDelay(2, spread, () => 0.5),
      1000,
    );
    assert.equal(backoffDelay(2, spread, almostOne), 1200);
  });

  it('no jitter waits exactly the ceiling', () => {
    const none = { initialDelayMs: 50, maxDelayMs: 2000, jitter: 'none' } as const;
    assert.deepEqual(
      [1, 2, 3, 6, 7].map((attempt) => backoffDelay(attempt, none)),
      [50, 100, 200, 1600, 2000],
    );
  });
});
