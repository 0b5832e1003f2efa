import { RateLimiterRes } from 'rate-limiter-flexible';
import {
  rateLimitHeaders,
  reject,
  storeLimiter,
  type PolicyOutcome,
  type RateLimitStore,
} from '../core/index.js';

export interface AuthFailureLimiterConfig {
  /** Failed authentications one client address may make per window before it gets 429. */
  readonly maxFailures: number;
  readonly windowSeconds: number;
  /**
   * Where the counts live. Default: memory (a client spread over several replicas gets
   * maxFailures per replica). Redis: one count for all replicas sharing it.
   */
  readonly store?: RateLimitStore;
}

export interface AuthFailureLimiter {
  /** A 429 outcome when `client` has failed too often in the current window, else undefined. */
  check(client: string): Promise<PolicyOutcome | undefined>;
  /** Counts one failed authentication for `client`. */
  record(client: string): Promise<void>;
}

/**
 * Slows down credential guessing: after `maxFailures` failed authentications from one client
 * address within a window, every request from it is answered 429 until the window ends — even
 * one with a valid credential, so a guesser learns nothing from answers while blocked. Counts are
 * kept in `store`: this process's memory (bounded by the number of distinct failing addresses per
 * window) or Redis, shared by the replicas (falling back to memory while Redis is unreachable).
 */
export function createAuthFailureLimiter(config: AuthFailureLimiterConfig): AuthFailureLimiter {
  const limiter = storeLimiter(
    config.store ?? { kind: 'memory' },
    'auth-failures',
    config.maxFailures,
    config.windowSeconds,
  );
  return {
    async check(client) {
      const state = await limiter.get(client);
      if (state === null || state.consumedPoints < config.maxFailures) return undefined;
      return reject(
        'too-many-auth-failures',
        `too many failed authentications from this client; retry after the window ends`,
        rateLimitHeaders({
          policy: 'auth-failures',
          quota: config.maxFailures,
          windowSeconds: config.windowSeconds,
          remaining: 0,
          resetMs: state.msBeforeNext,
        }),
        Math.max(1, Math.ceil(state.msBeforeNext / 1000)),
      );
    },
    async record(client) {
      try {
        await limiter.penalty(client, 1);
      } catch (error) {
        // A limiter rejects with a RateLimiterRes once the points are used up; that is no error here.
        if (!(error instanceof RateLimiterRes)) throw error;
      }
    },
  };
}
