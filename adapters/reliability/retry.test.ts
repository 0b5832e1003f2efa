import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRetryPolicy } from './retry.js';

const retriable = { retriable: true };

describe('retry policy (full jitter)', () => {
  it('draws each backoff uniformly below min(max, base * 2^(attempt-1))', () => {
    const policy = createRetryPolicy(
      { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 },
      { random: () => 0.5 },
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((a) => policy.backoff(a)),
      [50, 100, 200, 400, 500],
    );
    const top = createRetryPolicy(
      { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1000 },
      { random: () => 0.999 },
    );
    assert.equal(top.backoff(50), 999);
  });

  it('never retries a non-retriable error, whatever its ambiguity', () => {
    const policy = createRetryPolicy({ maxAttempts: 5, baseDelayMs: 10, maxDelayMs: 10 });
    assert.deepEqual(policy.decide({ retriable: false }, 1), { retry: false, reason: 'not-retriable' });
  });

  it('stops after maxAttempts tries', () => {
    const policy = createRetryPolicy(
      { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 10 },
      { random: () => 0 },
    );
    assert.equal(policy.decide(retriable, 2).retry, true);
    assert.deepEqual(policy.decide(retriable, 3), { retry: false, reason: 'attempts' });
  });

  it('does not retry when the wait would end past the deadline', () => {
    let now = 1_000;
    const policy = createRetryPolicy(
      { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 100 },
      { random: () => 0.5, now: () => now },
    );
    assert.deepEqual(policy.decide(retriable, 1, 1_100), { retry: true, delayMs: 50 });
    now = 1_060;
    assert.deepEqual(policy.decide(retriable, 1, 1_100), { retry: false, reason: 'deadline' });
  });
});
