import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rateLimitHeaders, retryAfterSeconds } from './rate-limit-headers.js';

describe('RateLimit headers', () => {
  it('write the draft structured fields, with t equal to Retry-After, rounded up', () => {
    assert.deepEqual(
      rateLimitHeaders({ policy: 'requests', quota: 10, windowSeconds: 1, remaining: 0, resetMs: 350 }),
      {
        'RateLimit-Policy': '"requests";q=10;w=1',
        RateLimit: '"requests";r=0;t=1',
        'Retry-After': '1',
      },
    );
    const long = rateLimitHeaders({
      policy: 'bytes',
      quota: 5,
      windowSeconds: 60,
      remaining: 2.7,
      resetMs: 41_001,
    });
    assert.equal(long.RateLimit, '"bytes";r=2;t=42');
    assert.equal(long['Retry-After'], '42');
    assert.equal(retryAfterSeconds(0), 1);
  });
});
