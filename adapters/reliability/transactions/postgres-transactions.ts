/**
 * The transaction table in PostgreSQL, shared by several gateway replicas: a transaction opened
 * through one replica can be prepared into, committed and checked back through any other. State
 * changes are single UPDATEs guarded by the expected state (or row locks), so two replicas never
 * both decide one transaction; the sweeper's claims use a lease like the outbox relay's.
 */
import pg from 'pg';
import type { MessageEnvelope } from '../../core/index.js';
import { HANDOVER_LEASE_MS, recordOf } from './sqlite-transactions.js';
import { envelopeFrom, envelopeMeta, type TransactionState, type TransactionStore } from './store.js';

export interface PostgresTransactionConfig {
  readonly url: string;
  /** Table name; its messages live in `<table>_messages`. */
  readonly table: string;
  readonly poolSize: number;
  readonly queryTimeoutMs: number;
}

export function createPostgresTransactionStore(config: PostgresTransactionConfig): TransactionStore {
  const t = config.table;
  const m = `${config.table}_messages`;
  let pool: pg.Pool | undefined;
  const use = () => {
    if (!pool) throw new Error('the transaction store is not open');
    return pool;
  };
  const one = async (text: string, values: unknown[]) => (await use().query(text, values)).rows[0];

  /** Runs `work` in one transaction on one connection. */
  async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await use().connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  return {
    kind: 'postgres',

    async open() {
      pool = new pg.Pool({
        connectionString: config.url,
        max: config.poolSize,
        connectionTimeoutMillis: config.queryTimeoutMs,
        query_timeout: config.queryTimeoutMs,
      });
      pool.on('error', () => {}); // an idle client's error: the next query reports it
      await use().query(`
        CREATE TABLE IF NOT EXISTS ${t} (
          id TEXT PRIMARY KEY, tenant TEXT NOT NULL, state TEXT NOT NULL,
          messages INTEGER NOT NULL DEFAULT 0, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
          check_url TEXT, checks INTEGER NOT NULL DEFAULT 0, next_check_at BIGINT NOT NULL DEFAULT 0,
          decided_by TEXT, lease_owner TEXT, lease_until BIGINT NOT NULL DEFAULT 0,
          updated_at BIGINT NOT NULL);
        CREATE INDEX IF NOT EXISTS ${t}_due ON ${t} (state, expires_at);
        CREATE TABLE IF NOT EXISTS ${m} (
          tx_id TEXT NOT NULL, ord INTEGER NOT NULL, id TEXT NOT NULL, tenant TEXT NOT NULL,
          meta TEXT NOT NULL, payload BYTEA NOT NULL, PRIMARY KEY (tx_id, ord));
        CREATE INDEX IF NOT EXISTS ${m}_by_id ON ${m} (tenant, id);`);
    },

    async create(tx, now) {
      const row = await one(
        `INSERT INTO ${t} (id, tenant, state, created_at, expires_at, check_url, updated_at)
         VALUES ($1, $2, 'open', $3, $4, $5, $3) RETURNING *`,
        [tx.id, tx.tenant, now, tx.expiresAt, tx.checkUrl ?? null],
      );
      return recordOf(row);
    },

    async get(tenant, id) {
      const row = await one(`SELECT * FROM ${t} WHERE tenant = $1 AND id = $2`, [tenant, id]);
      return row && recordOf(row);
    },

    async prepare(tenant, id, envelopes, maxMessages, now) {
      return inTransaction(async (client) => {
        const row = (
          await client.query(`SELECT * FROM ${t} WHERE tenant = $1 AND id = $2 FOR UPDATE`, [tenant, id])
        ).rows[0];
        if (!row) return { kind: 'unknown' as const };
        if (row.state !== 'open') return { kind: 'not-open' as const, record: recordOf(row) };
        const base = Number(row.messages);
        if (base + envelopes.length > maxMessages) return { kind: 'full' as const, record: recordOf(row) };
        const values: unknown[] = [];
        const tuples = envelopes.map((envelope, i) => {
          values.push(
            id,
            base + i,
            envelope.id,
            tenant,
            envelopeMeta(envelope),
            Buffer.from(envelope.payload),
          );
          const p = i * 6;
          return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6})`;
        });
        await client.query(
          `INSERT INTO ${m} (tx_id, ord, id, tenant, meta, payload) VALUES ${tuples.join(', ')}`,
          values,
        );
        const updated = (
          await client.query(
            `UPDATE ${t} SET messages = messages + $1, updated_at = $2 WHERE id = $3 RETURNING *`,
            [envelopes.length, now, id],
          )
        ).rows[0];
        return { kind: 'prepared' as const, record: recordOf(updated) };
      });
    },

    async messages(id) {
      const rows = (await use().query(`SELECT meta, payload FROM ${m} WHERE tx_id = $1 ORDER BY ord`, [id]))
        .rows;
      return rows.map((r): MessageEnvelope => envelopeFrom(r.meta, new Uint8Array(r.payload)));
    },

    async transition(tenant, id, from, to, decidedBy, now) {
      const row = await one(
        `UPDATE ${t} SET state = $1, decided_by = COALESCE($2, decided_by), lease_owner = NULL,
           lease_until = $3, updated_at = $4
         WHERE tenant = $5 AND id = $6 AND state = ANY($7) RETURNING *`,
        [
          to,
          decidedBy ?? null,
          to === 'committing' ? now + HANDOVER_LEASE_MS : 0,
          now,
          tenant,
          id,
          [...from],
        ],
      );
      if (row) return { kind: 'done', record: recordOf(row) };
      const current = await one(`SELECT * FROM ${t} WHERE tenant = $1 AND id = $2`, [tenant, id]);
      return current ? { kind: 'conflict', record: recordOf(current) } : { kind: 'unknown' };
    },

    async claimDue(owner, leaseMs, limit, now) {
      const rows = (
        await use().query(
          `UPDATE ${t} SET lease_owner = $1, lease_until = $2
           WHERE id IN (
             SELECT id FROM ${t}
             WHERE ((state = 'open' AND expires_at <= $3) OR state = 'committing')
               AND next_check_at <= $3 AND lease_until <= $3
             ORDER BY expires_at LIMIT $4 FOR UPDATE SKIP LOCKED)
           RETURNING *`,
          [owner, now + leaseMs, now, limit],
        )
      ).rows;
      return rows.map(recordOf);
    },

    async deferCheck(id, checks, nextCheckAt, now) {
      await use().query(
        `UPDATE ${t} SET checks = $1, next_check_at = $2, lease_owner = NULL, lease_until = 0, updated_at = $3
         WHERE id = $4`,
        [checks, nextCheckAt, now, id],
      );
    },

    async findMessage(tenant, messageId) {
      const row = await one(
        `SELECT x.id AS tx, x.state, m.meta, x.updated_at FROM ${m} m JOIN ${t} x ON x.id = m.tx_id
         WHERE m.tenant = $1 AND m.id = $2 ORDER BY x.created_at DESC LIMIT 1`,
        [tenant, messageId],
      );
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
      return inTransaction(async (client) => {
        const done = (
          await client.query(
            `DELETE FROM ${t} WHERE id IN (SELECT id FROM ${t} WHERE state IN ('committed', 'rolled-back')
               AND updated_at < $1 LIMIT 1000) RETURNING id`,
            [before],
          )
        ).rows.map((r) => r.id as string);
        if (done.length > 0) await client.query(`DELETE FROM ${m} WHERE tx_id = ANY($1)`, [done]);
        return done.length;
      });
    },

    async close() {
      const closing = pool;
      pool = undefined;
      await closing?.end();
    },
  };
}
