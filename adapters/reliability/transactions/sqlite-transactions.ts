/**
 * The transaction table in one SQLite file (default ./data/transactions.db), for one gateway
 * process. WAL with synchronous=FULL: a prepare or a decision resolves after its fsync.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { MessageEnvelope } from '../../core/index.js';
import {
  envelopeFrom,
  envelopeMeta,
  TransactionStoreError,
  type DecidedBy,
  type TransactionRecord,
  type TransactionState,
  type TransactionStore,
} from './store.js';

/** How long a commit's hand-over to the outbox holds a transaction before a sweeper may resume it. */
export const HANDOVER_LEASE_MS = 60_000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS transactions (
    id            TEXT    PRIMARY KEY,
    tenant        TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    messages      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    check_url     TEXT,
    checks        INTEGER NOT NULL DEFAULT 0,
    next_check_at INTEGER NOT NULL DEFAULT 0,
    decided_by    TEXT,
    lease_owner   TEXT,
    lease_until   INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS transactions_due ON transactions (state, expires_at);
  CREATE TABLE IF NOT EXISTS transaction_messages (
    tx_id    TEXT    NOT NULL,
    ord      INTEGER NOT NULL,
    id       TEXT    NOT NULL,
    tenant   TEXT    NOT NULL,
    meta     TEXT    NOT NULL,
    payload  BLOB    NOT NULL,
    PRIMARY KEY (tx_id, ord)
  );
  CREATE INDEX IF NOT EXISTS transaction_messages_by_id ON transaction_messages (tenant, id);
`;

interface Row {
  id: string;
  tenant: string;
  state: string;
  messages: number;
  created_at: number;
  expires_at: number;
  check_url: string | null;
  checks: number;
  decided_by: string | null;
  updated_at: number;
}

export function recordOf(row: Row): TransactionRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    state: row.state as TransactionState,
    messages: Number(row.messages),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    ...(row.check_url === null ? {} : { checkUrl: row.check_url }),
    checks: Number(row.checks),
    ...(row.decided_by === null ? {} : { decidedBy: row.decided_by as DecidedBy }),
    updatedAt: Number(row.updated_at),
  };
}

export function createSqliteTransactionStore(config: { readonly file: string }): TransactionStore {
  let db: Database.Database | undefined;
  const use = (): Database.Database => {
    if (!db) throw new TransactionStoreError('the transaction store is not open');
    return db;
  };
  const getRow = (tenant: string, id: string) =>
    use().prepare('SELECT * FROM transactions WHERE tenant = ? AND id = ?').get(tenant, id) as
      Row | undefined;

  return {
    kind: 'sqlite',

    async open() {
      mkdirSync(path.dirname(config.file), { recursive: true });
      db = new Database(config.file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('cache_size = -2048');
      db.exec(SCHEMA);
    },

    async create(tx, now) {
      use()
        .prepare(
          `INSERT INTO transactions (id, tenant, state, created_at, expires_at, check_url, updated_at)
           VALUES (?, ?, 'open', ?, ?, ?, ?)`,
        )
        .run(tx.id, tx.tenant, now, tx.expiresAt, tx.checkUrl ?? null, now);
      return recordOf(getRow(tx.tenant, tx.id)!);
    },

    async get(tenant, id) {
      const row = getRow(tenant, id);
      return row && recordOf(row);
    },

    async prepare(tenant, id, envelopes, maxMessages, now) {
      const database = use();
      const insert = database.prepare(
        'INSERT INTO transaction_messages (tx_id, ord, id, tenant, meta, payload) VALUES (?, ?, ?, ?, ?, ?)',
      );
      return database
        .transaction(() => {
          const row = getRow(tenant, id);
          if (!row) return { kind: 'unknown' as const };
          if (row.state !== 'open') return { kind: 'not-open' as const, record: recordOf(row) };
          if (row.messages + envelopes.length > maxMessages)
            return { kind: 'full' as const, record: recordOf(row) };
          envelopes.forEach((envelope, i) =>
            insert.run(
              id,
              row.messages + i,
              envelope.id,
              tenant,
              envelopeMeta(envelope),
              Buffer.from(envelope.payload),
            ),
          );
          database
            .prepare('UPDATE transactions SET messages = messages + ?, updated_at = ? WHERE id = ?')
            .run(envelopes.length, now, id);
          return { kind: 'prepared' as const, record: recordOf(getRow(tenant, id)!) };
        })
        .immediate();
    },

    async messages(id) {
      const rows = use()
        .prepare('SELECT meta, payload FROM transaction_messages WHERE tx_id = ? ORDER BY ord')
        .all(id) as { meta: string; payload: Buffer }[];
      return rows.map((r): MessageEnvelope => envelopeFrom(r.meta, new Uint8Array(r.payload)));
    },

    async transition(tenant, id, from, to, decidedBy, now) {
      const database = use();
      return database
        .transaction(() => {
          const row = getRow(tenant, id);
          if (!row) return { kind: 'unknown' as const };
          if (!from.includes(row.state as TransactionState))
            return { kind: 'conflict' as const, record: recordOf(row) };
          database
            .prepare(
              `UPDATE transactions SET state = ?, decided_by = COALESCE(?, decided_by), lease_owner = NULL,
               lease_until = ?, updated_at = ? WHERE id = ?`,
            )
            .run(to, decidedBy ?? null, to === 'committing' ? now + HANDOVER_LEASE_MS : 0, now, id);
          return { kind: 'done' as const, record: recordOf(getRow(tenant, id)!) };
        })
        .immediate();
    },

    async claimDue(owner, leaseMs, limit, now) {
      const rows = use()
        .prepare(
          `UPDATE transactions SET lease_owner = @owner, lease_until = @until
           WHERE id IN (
             SELECT id FROM transactions
             WHERE ((state = 'open' AND expires_at <= @now) OR state = 'committing')
               AND next_check_at <= @now AND lease_until <= @now
             ORDER BY expires_at LIMIT @limit)
           RETURNING *`,
        )
        .all({ owner, until: now + leaseMs, now, limit }) as Row[];
      return rows.map(recordOf);
    },

    async deferCheck(id, checks, nextCheckAt, now) {
      use()
        .prepare(
          `UPDATE transactions SET checks = ?, next_check_at = ?, lease_owner = NULL, lease_until = 0,
             updated_at = ? WHERE id = ?`,
        )
        .run(checks, nextCheckAt, now, id);
    },

    async findMessage(tenant, messageId) {
      const row = use()
        .prepare(
          `SELECT t.id AS tx, t.state, m.meta, t.updated_at FROM transaction_messages m
           JOIN transactions t ON t.id = m.tx_id
           WHERE m.tenant = ? AND m.id = ? ORDER BY t.created_at DESC LIMIT 1`,
        )
        .get(tenant, messageId) as
        { tx: string; state: string; meta: string; updated_at: number } | undefined;
      if (!row) return undefined;
      const meta = JSON.parse(row.meta) as { topic: string; createdAt: number };
      return {
        transactionId: row.tx,
        state: row.state as TransactionState,
        topic: meta.topic,
        createdAt: meta.createdAt,
        updatedAt: Number(row.updated_at),
      };
    },

    async prune(before) {
      const database = use();
      return database.transaction(() => {
        const done = database
          .prepare(
            `SELECT id FROM transactions WHERE state IN ('committed', 'rolled-back') AND updated_at < ? LIMIT 1000`,
          )
          .all(before) as { id: string }[];
        const dropMessages = database.prepare('DELETE FROM transaction_messages WHERE tx_id = ?');
        const drop = database.prepare('DELETE FROM transactions WHERE id = ?');
        for (const { id } of done) {
          dropMessages.run(id);
          drop.run(id);
        }
        return done.length;
      })();
    },

    async close() {
      db?.close();
      db = undefined;
    },
  };
}
