/**
 * Builds the reliability layer's stores from `stores:` (the gateway never names a store class
 * elsewhere). Relative paths resolve against the gateway's base directory.
 */
import path from 'node:path';
import type { Logger } from '../adapters/core/index.js';
import type { Outbox } from '../adapters/reliability/outbox/outbox.js';
import { createPostgresOutbox } from '../adapters/reliability/outbox/postgres-outbox.js';
import { createSqliteOutbox } from '../adapters/reliability/outbox/sqlite-outbox.js';
import { createRedisIdempotencyStore } from '../adapters/reliability/idempotency/redis-idempotency-store.js';
import { createSqliteIdempotencyStore } from '../adapters/reliability/idempotency/sqlite-idempotency-store.js';
import type { IdempotencyStoreImpl } from '../adapters/reliability/idempotency/types.js';
import type { GatewayConfig } from './config/schema.js';

export function createOutbox(
  config: Readonly<GatewayConfig>,
  deps: { logger: Logger; now: () => number; baseDir: string },
): Outbox {
  const store = config.stores.outbox;
  const limits = {
    maxMessages: store.maxMessages,
    maxBytes: store.maxBytes,
    statusRetentionMs: config.reliability.statusRetentionSeconds * 1000,
    deadRetentionMs: config.reliability.deadLetterRetentionSeconds * 1000,
  };
  if (store.kind === 'postgres') {
    return createPostgresOutbox(
      {
        ...limits,
        url: store.url,
        table: store.table,
        poolSize: store.poolSize,
        queryTimeoutMs: store.queryTimeoutMs,
      },
      deps,
    );
  }
  return createSqliteOutbox({ ...limits, file: path.resolve(deps.baseDir, store.path) }, deps);
}

export function createIdempotencyStore(
  config: Readonly<GatewayConfig>,
  deps: { logger: Logger; now: () => number; baseDir: string },
): IdempotencyStoreImpl {
  const store = config.stores.idempotency;
  if (store.kind === 'redis') {
    return createRedisIdempotencyStore(
      { url: store.url, keyPrefix: store.keyPrefix, commandTimeoutMs: store.commandTimeoutMs },
      deps,
    );
  }
  return createSqliteIdempotencyStore({ file: path.resolve(deps.baseDir, store.path) }, deps);
}
