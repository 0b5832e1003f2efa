/**
 * Idempotency keys in Redis, shared by every gateway replica.
 *
 * - begin() is one Lua script (atomic on the server): a completed entry is replayed; otherwise
 *   `SET lock NX PX lockTtl` takes the in-flight lock; if someone holds it, its fingerprint tells
 *   in-flight (409) from mismatch (422).
 * - complete() stores the answer with a TTL of the retention window and drops the lock if this
 *   request still holds it; release() only drops the lock (compare-and-delete).
 * - Redis unreachable → `unavailable` (the gateway answers 503). Commands fail fast while
 *   disconnected (no offline queue) and time out after `commandTimeoutMs`; the client reconnects
 *   in the background. Deduplication is never silently switched off.
 * - Keys: `<keyPrefix>{<hash>}:done` and `:lock` (the braces keep both in one Redis Cluster slot).
 */
import { Redis } from 'ioredis';
import { backoffDelay, type Logger } from '../../core/index.js';
import { messageOf, type BeginOutcome, type IdempotencyStoreImpl, type StoredResponse } from './types.js';

/** Reconnect waits: 50 ms doubling up to 2 s, forever (requests meanwhile answer 503). */
const REDIS_RECONNECT = { initialDelayMs: 50, maxDelayMs: 2_000, jitter: 'none' } as const;

export interface RedisIdempotencyConfig {
  readonly url: string;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
}

const BEGIN = `
local done = redis.call('GET', KEYS[1])
if done then return {'done', done} end
if redis.call('SET', KEYS[2], ARGV[2] .. '|' .. ARGV[1], 'NX', 'PX', ARGV[3]) then return {'acquired', ''} end
local held = redis.call('GET', KEYS[2])
return {'locked', held or ''}
`;

const COMPLETE = `
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
local held = redis.call('GET', KEYS[2])
if held and string.sub(held, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then redis.call('DEL', KEYS[2]) end
return 1
`;

const RELEASE = `
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then return redis.call('DEL', KEYS[1]) end
return 0
`;

export function createRedisIdempotencyStore(
  config: RedisIdempotencyConfig,
  deps: { logger: Logger },
): IdempotencyStoreImpl {
  const logger = deps.logger.child({ component: 'idempotency', store: 'redis' });
  const client = new Redis(config.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: config.commandTimeoutMs,
    // Reconnect forever, backing off to 2 s; requests meanwhile answer 503.
    retryStrategy: (times) => backoffDelay(times + 1, REDIS_RECONNECT),
  });
  let down = false;
  client.on('error', (error: Error) => {
    if (!down) logger.warn({ err: error }, 'Redis idempotency store unreachable; keyed publishes answer 503');
    down = true;
  });
  client.on('ready', () => {
    if (down) logger.info({}, 'Redis idempotency store reachable again');
    down = false;
  });

  const keys = (key: string) => [`${config.keyPrefix}{${key}}:done`, `${config.keyPrefix}{${key}}:lock`];
  const unavailable = (error: unknown) => ({
    kind: 'unavailable' as const,
    detail: `idempotency store (Redis) unavailable: ${messageOf(error)}`,
  });
  let closed = false;

  return {
    kind: 'redis',
    async open() {
      try {
        await client.connect();
      } catch (error) {
        // Keep reconnecting in the background; until then begin() answers unavailable.
        logger.warn({ err: error }, 'Redis idempotency store not reachable at start');
      }
    },
    async begin(key, fingerprint, token, lockTtlMs): Promise<BeginOutcome> {
      try {
        const [done, lock] = keys(key);
        const [kind, value] = (await client.eval(BEGIN, 2, done!, lock!, fingerprint, token, lockTtlMs)) as [
          string,
          string,
        ];
        if (kind === 'acquired') return { kind: 'acquired' };
        if (kind === 'done') {
          const stored = JSON.parse(value) as { fingerprint: string; response: StoredResponse };
          return stored.fingerprint === fingerprint
            ? { kind: 'completed', response: stored.response }
            : { kind: 'mismatch' };
        }
        return value.slice(value.indexOf('|') + 1) === fingerprint
          ? { kind: 'in-flight' }
          : { kind: 'mismatch' };
      } catch (error) {
        return unavailable(error);
      }
    },
    async complete(key, fingerprint, token, response, retentionMs) {
      try {
        const [done, lock] = keys(key);
        await client.eval(
          COMPLETE,
          2,
          done!,
          lock!,
          token,
          JSON.stringify({ fingerprint, response }),
          retentionMs,
        );
        return { kind: 'ok' };
      } catch (error) {
        return unavailable(error);
      }
    },
    async release(key, token) {
      try {
        await client.eval(RELEASE, 1, keys(key)[1]!, token);
        return { kind: 'ok' };
      } catch (error) {
        return unavailable(error);
      }
    },
    async ping() {
      try {
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      client.disconnect();
    },
  };
}
