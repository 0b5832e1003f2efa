/**
 * Where counting policies (quotas, the failed-authentication limit) keep their counters: this
 * process's memory, or Redis shared by every replica. With Redis, a limiter falls back to a
 * per-process memory limiter of the same size while Redis is unreachable (rate-limiter-flexible's
 * insurance limiter), so an outage loosens the limit to per-replica rather than failing requests.
 */
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

export type RateLimitStore =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'redis';
      /** An ioredis client, created with enableOfflineQueue: false so commands fail fast when down. */
      readonly client: object;
      /** Prefix of every Redis key; replicas that share counters share the prefix. */
      readonly keyPrefix: string;
    };

/** A limiter of `points` per `duration` seconds named `name` (unique per store) in `store`. */
export function storeLimiter(
  store: RateLimitStore,
  name: string,
  points: number,
  duration: number,
): RateLimiterAbstract {
  if (store.kind === 'memory') return new RateLimiterMemory({ keyPrefix: name, points, duration });
  return new RateLimiterRedis({
    storeClient: store.client,
    keyPrefix: `${store.keyPrefix}:${name}`,
    points,
    duration,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: `insurance:${name}`, points, duration }),
  });
}
