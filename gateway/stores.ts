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
import { createPostgresTransactionStore } from '../adapters/reliability/transactions/postgres-transactions.js';
import { createSqliteTransactionStore } from '../adapters/reliability/transactions/sqlite-transactions.js';
import type { TransactionStore } from '../adapters/reliability/transactions/store.js';
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

/**
 * The transaction table: as configured, or else beside the outbox — the same PostgreSQL when the
 * outbox is shared by replicas (a transaction opened through one replica is committed through
 * any), a SQLite file next to the outbox's otherwise.
 */
export function createTransactionStore(
  config: Readonly<GatewayConfig>,
  deps: { baseDir: string },
): TransactionStore {
  const store = config.stores.transactions;
  const outbox = config.stores.outbox;
  if (store?.kind === 'postgres') return createPostgresTransactionStore(store);
  if (store === undefined && outbox.kind === 'postgres') {
    return createPostgresTransactionStore({
      url: outbox.url,
      table: `${outbox.table}_transactions`.slice(0, 55),
      poolSize: 5,
      queryTimeoutMs: outbox.queryTimeoutMs,
    });
  }
  const file =
    store?.kind === 'sqlite'
      ? store.path
      : path.join(
          path.dirname(outbox.kind === 'sqlite' ? outbox.path : './data/outbox.db'),
          'transactions.db',
        );
  return createSqliteTransactionStore({ file: path.resolve(deps.baseDir, file) });
}
