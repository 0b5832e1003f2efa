/**
 * Idempotency keys in SQLite (default ./data/idempotency.db): one gateway process.
 *
 * better-sqlite3 is synchronous, so begin() is atomic by construction: 50 concurrent requests with
 * one key see exactly one `acquired`. Written with synchronous=NORMAL in WAL mode: an entry survives
 * a process crash; only an OS crash or power loss can lose the last commits (then a retry would
 * publish again, with the same message id if the client sent Message-Id). Expired entries are
 * deleted at most once a minute. Not shared across replicas: use the Redis store there.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../../core/index.js';
import { messageOf, type BeginOutcome, type IdempotencyStoreImpl, type StoredResponse } from './types.js';

export interface SqliteIdempotencyConfig {
  readonly file: string;
}

interface Entry {
  fingerprint: string;
  token: string | null;
  response: string | null;
  expires_at: number;
}

const SWEEP_INTERVAL_MS = 60_000;
/**
 * Page cache of the connection, in KiB: SQLite's own default (2 MiB), not better-sqlite3's 16 MiB,
 * which a steady stream of new keys fills up and keeps as process memory.
 */
const CACHE_SIZE_KIB = 2048;

export function createSqliteIdempotencyStore(
  config: SqliteIdempotencyConfig,
  deps: { logger: Logger; now?: () => number },
): IdempotencyStoreImpl {
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'idempotency', store: 'sqlite' });
  let db: Database.Database | undefined;
  let s: ReturnType<typeof prepare> | undefined;
  let lastSweep = 0;

  function prepare(database: Database.Database) {
    return {
      get: database.prepare<[string], Entry>(
        'SELECT fingerprint, token, response, expires_at FROM idempotency WHERE k = ?',
      ),
      lock: database.prepare(
        `INSERT INTO idempotency (k, fingerprint, token, response, expires_at) VALUES (?, ?, ?, NULL, ?)
         ON CONFLICT (k) DO UPDATE SET fingerprint = excluded.fingerprint, token = excluded.token,
           response = NULL, expires_at = excluded.expires_at`,
      ),
      complete: database.prepare(
        `INSERT INTO idempotency (k, fingerprint, token, response, expires_at) VALUES (?, ?, NULL, ?, ?)
         ON CONFLICT (k) DO UPDATE SET fingerprint = excluded.fingerprint, token = NULL,
           response = excluded.response, expires_at = excluded.expires_at`,
      ),
      release: database.prepare('DELETE FROM idempotency WHERE k = ? AND token = ?'),
      sweep: database.prepare('DELETE FROM idempotency WHERE expires_at <= ?'),
    };
  }

  function unavailable(error: unknown) {
    return { kind: 'unavailable' as const, detail: `idempotency store ${config.file}: ${messageOf(error)}` };
  }

  return {
    kind: 'sqlite',
    async open() {
      if (db) return;
      mkdirSync(path.dirname(config.file), { recursive: true });
      const database = new Database(config.file, { timeout: 2_000 });
      try {
        database.pragma('locking_mode = EXCLUSIVE');
        database.pragma('journal_mode = WAL');
        database.pragma('synchronous = NORMAL');
        database.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
        database.exec(
          `CREATE TABLE IF NOT EXISTS idempotency (
             k TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, token TEXT, response TEXT,
             expires_at INTEGER NOT NULL) WITHOUT ROWID`,
        );
        s = prepare(database);
        db = database;
      } catch (error) {
        database.close();
        throw error;
      }
      logger.info({ file: config.file }, 'idempotency store opened');
    },
    async begin(key, fingerprint, token, lockTtlMs): Promise<BeginOutcome> {
      if (!db || !s) return { kind: 'unavailable', detail: 'idempotency store is not open' };
      try {
        const at = now();
        if (at - lastSweep >= SWEEP_INTERVAL_MS) {
          lastSweep = at;
          s.sweep.run(at);
        }
        const entry = s.get.get(key);
        if (entry && entry.expires_at > at) {
          if (entry.fingerprint !== fingerprint) return { kind: 'mismatch' };
          if (entry.response === null) return { kind: 'in-flight' };
          return { kind: 'completed', response: JSON.parse(entry.response) as StoredResponse };
        }
        s.lock.run(key, fingerprint, token, at + lockTtlMs);
        return { kind: 'acquired' };
      } catch (error) {
        return unavailable(error);
      }
    },
    async complete(key, fingerprint, _token, response, retentionMs) {
      if (!db || !s) return { kind: 'unavailable', detail: 'idempotency store is not open' };
      try {
        s.complete.run(key, fingerprint, JSON.stringify(response), now() + retentionMs);
        return { kind: 'ok' };
      } catch (error) {
        return unavailable(error);
      }
    },
    async release(key, token) {
      if (!db || !s) return { kind: 'unavailable', detail: 'idempotency store is not open' };
      try {
        s.release.run(key, token);
        return { kind: 'ok' };
      } catch (error) {
        return unavailable(error);
      }
    },
    async ping() {
      return db !== undefined;
    },
    async close() {
      try {
        db?.close();
      } finally {
        db = undefined;
        s = undefined;
      }
    },
  };
}
