/**
 * The outbox in PostgreSQL, for several gateway replicas sharing one table.
 *
 * - Durability: an append is one INSERT statement (all messages of the call, one transaction)
 *   and resolves after COMMIT, which PostgreSQL fsyncs (synchronous_commit=on, the default).
 *   PostgreSQL groups concurrent commits into one WAL flush itself (group commit).
 * - Claims: `SELECT ... FOR UPDATE SKIP LOCKED` plus a lease (lease_owner, lease_until), in one
 *   transaction. Two replicas never claim one row at once; a replica that dies leaves its rows to
 *   others after `leaseMs`. A key's rows are claimed as a run
 *   that starts at its oldest queued row (the head, locked with SKIP LOCKED); the rows after a
 *   head are claimable only by whoever holds it, so a key's messages stay in order across replicas.
 * - Bounds: checked against counts refreshed at most once a second (shared by all replicas), so
 *   the replicas together may overshoot maxMessages by what they accept within that second.
 * - Status rows of sync publishes are buffered and written every 100 ms with
 *   synchronous_commit=off (they describe messages the broker already has).
 * - The table is created if missing (name from config).
 */
import pg from 'pg';
import { abortable, type Logger, type PublishReceipt } from '../../core/index.js';
import { claimedOf, deadOf, deletedOf, statusOf } from './rows.js';
import {
  OutboxError,
  followerBound,
  planClaim,
  errorOf,
  storedBytes,
  type Outbox,
  type OutboxLimits,
  type StatusRecord,
  type StoredError,
} from './outbox.js';

export interface PostgresOutboxConfig extends OutboxLimits {
  readonly url: string;
  readonly table: string;
  readonly poolSize: number;
  /** Longest wait for one query, and for a connection from the pool. Default: 5000. */
  readonly queryTimeoutMs?: number;
}

/** A queued row after a claimed key head (see claimableRun). */
interface RunRow {
  seq: string;
  head: string;
  next_attempt_at: string;
  lease_until: string;
  deliver_at: string | null;
}

interface Row {
  seq: string;
  id: string;
  tenant: string;
  topic: string;
  target: string;
  destination: string;
  msg_key: string | null;
  headers: Record<string, string>;
  content_type: string;
  payload: Buffer | null;
  bytes: number;
  deliver_at: string | null;
  created_at: string;
  state: string;
  attempts: number;
  receipt: PublishReceipt | null;
  last_error: StoredError | null;
  accepted_at: string;
  updated_at: string;
}

const COLUMNS = [
  'id',
  'tenant',
  'topic',
  'target',
  'destination',
  'msg_key',
  'headers',
  'content_type',
  'payload',
  'bytes',
  'deliver_at',
  'created_at',
  'state',
  'attempts',
  'next_attempt_at',
  'receipt',
  'last_error',
  'accepted_at',
  'updated_at',
];

export function createPostgresOutbox(
  config: PostgresOutboxConfig,
  deps: { logger: Logger; now?: () => number },
): Outbox {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(config.table))
    throw new OutboxError(`invalid table name ${config.table}`);
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'outbox', store: 'postgres', table: config.table });
  const t = config.table;
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    connectionTimeoutMillis: config.queryTimeoutMs ?? 5_000,
    // Client-side: a server that stops answering fails the query instead of hanging its caller.
    query_timeout: config.queryTimeoutMs ?? 5_000,
  });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL connection failed'));
  let opened = false;
  let closed = false;
  let cached = { at: 0, queued: 0, bytes: 0 };
  let statusBuffer: StatusRecord[] = [];
  let statusTimer: NodeJS.Timeout | undefined;

  async function query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[] = []) {
    if (closed) throw new OutboxError('outbox is closed');
    try {
      return await pool.query<R>(text, values);
    } catch (error) {
      throw new OutboxError(`outbox ${t}: ${what}: ${errorOf(error).message}`, { cause: error });
    }
  }

  function insertSql(rows: number): string {
    const values: string[] = [];
    for (let r = 0; r < rows; r++) {
      values.push(`(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`);
    }
    return `INSERT INTO ${t} (${COLUMNS.join(', ')}) VALUES ${values.join(', ')}`;
  }

  function paramsOf(
    envelope: StatusRecord['envelope'],
    target: string,
    state: string,
    extra: { payload: boolean; attempts: number; receipt?: PublishReceipt; error?: StoredError },
    at: number,
  ): unknown[] {
    return [
      envelope.id,
      envelope.tenant,
      envelope.topic,
      target,
      envelope.destination,
      envelope.key ?? null,
      JSON.stringify(envelope.headers),
      envelope.contentType,
      extra.payload
        ? Buffer.from(envelope.payload.buffer, envelope.payload.byteOffset, envelope.payload.byteLength)
        : null,
      extra.payload ? storedBytes(envelope) : 0,
      envelope.deliverAt ?? null,
      envelope.createdAt,
      state,
      extra.attempts,
      extra.payload ? (envelope.deliverAt ?? 0) : 0,
      extra.receipt ? JSON.stringify(extra.receipt) : null,
      extra.error ? JSON.stringify(extra.error) : null,
      at,
      at,
    ];
  }

  async function refreshCounts(force = false): Promise<void> {
    const at = now();
    if (!force && at - cached.at < 1_000) return;
    const result = await query<{ n: string; bytes: string | null }>(
      'count',
      `SELECT count(*) AS n, sum(bytes) AS bytes FROM ${t} WHERE state = 'queued'`,
    );
    cached = { at, queued: Number(result.rows[0]!.n), bytes: Number(result.rows[0]!.bytes ?? 0) };
  }

  async function flushStatus(): Promise<void> {
    if (statusTimer) clearTimeout(statusTimer);
    statusTimer = undefined;
    if (statusBuffer.length === 0 || !opened) return;
    const records = statusBuffer.splice(0, 500);
    const at = now();
    const client = await pool.connect().catch(() => undefined);
    if (!client) {
      logger.warn({ dropped: records.length }, 'could not write message status rows');
      return;
    }
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL synchronous_commit = off');
      await client.query(
        insertSql(records.length),
        records.flatMap((r) =>
          paramsOf(
            r.envelope,
            r.target,
            r.state,
            {
              payload: false,
              attempts: r.attempts,
              ...(r.receipt ? { receipt: r.receipt } : {}),
              ...(r.error ? { error: r.error } : {}),
            },
            at,
          ),
        ),
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      logger.warn({ err: error, dropped: records.length }, 'could not write message status rows');
    } finally {
      client.release();
    }
    if (statusBuffer.length > 0) scheduleStatus();
  }

  function scheduleStatus(): void {
    if (statusTimer) return;
    statusTimer = setTimeout(() => void flushStatus(), 100);
    statusTimer.unref();
  }

  const outbox: Outbox = {
    kind: 'postgres',
    async open() {
      if (opened) return;
      await query(
        'create table',
        `CREATE TABLE IF NOT EXISTS ${t} (
          seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL, tenant TEXT NOT NULL, topic TEXT NOT NULL,
          target TEXT NOT NULL, destination TEXT NOT NULL, msg_key TEXT, headers JSONB NOT NULL,
          content_type TEXT NOT NULL, payload BYTEA, bytes INTEGER NOT NULL, deliver_at BIGINT,
          created_at BIGINT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at BIGINT NOT NULL DEFAULT 0, lease_owner TEXT, lease_until BIGINT NOT NULL DEFAULT 0,
          receipt JSONB, last_error JSONB, accepted_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
        CREATE INDEX IF NOT EXISTS ${t}_by_id ON ${t} (tenant, id, seq);
        CREATE INDEX IF NOT EXISTS ${t}_due ON ${t} (next_attempt_at, seq) WHERE state = 'queued';
        CREATE INDEX IF NOT EXISTS ${t}_by_key ON ${t} (target, msg_key, seq) WHERE state = 'queued';
        CREATE INDEX IF NOT EXISTS ${t}_by_state ON ${t} (state, updated_at);
        CREATE INDEX IF NOT EXISTS ${t}_dead ON ${t} (tenant, topic, seq) WHERE state = 'dead';
        CREATE INDEX IF NOT EXISTS ${t}_scheduled ON ${t} (deliver_at)
          WHERE state = 'queued' AND deliver_at IS NOT NULL;`,
      );
      await refreshCounts(true);
      opened = true;
      logger.info({ queued: cached.queued }, 'outbox opened');
    },

    async append(messages) {
      if (closed || !opened) return { kind: 'unavailable', detail: 'the outbox is not open' };
      try {
        await refreshCounts();
      } catch (error) {
        return { kind: 'unavailable', detail: errorOf(error).message };
      }
      const bytes = messages.reduce((sum, m) => sum + storedBytes(m.envelope), 0);
      if (cached.queued + messages.length > config.maxMessages || cached.bytes + bytes > config.maxBytes) {
        return {
          kind: 'full',
          detail: `the outbox holds about ${cached.queued} queued messages (${cached.bytes} bytes); limits are ${config.maxMessages} messages and ${config.maxBytes} bytes`,
        };
      }
      const at = now();
      try {
        await query(
          'append',
          insertSql(messages.length),
          messages.flatMap((m) =>
            paramsOf(m.envelope, m.target, 'queued', { payload: true, attempts: 0 }, at),
          ),
        );
      } catch (error) {
        return { kind: 'unavailable', detail: errorOf(error).message };
      }
      cached = { ...cached, queued: cached.queued + messages.length, bytes: cached.bytes + bytes };
      return { kind: 'appended' };
    },

    async queuedKeys(target, keys, signal) {
      if (keys.length === 0) return new Set<string>();
      // Always asked of the table, not of the cached counts: another replica may have queued the
      // key a moment ago, and this request may be the caller's next one after that 202.
      const asked = query<{ msg_key: string }>(
        'queued keys',
        `SELECT DISTINCT msg_key FROM ${t} WHERE state = 'queued' AND target = $1 AND msg_key = ANY($2::text[])
           AND (deliver_at IS NULL OR deliver_at <= $3)`,
        [target, [...new Set(keys)], now()],
      );
      const result = await (signal ? abortable(asked, signal) : asked);
      return new Set(result.rows.map((r) => r.msg_key));
    },

    async claim(options, at) {
      const client = await pool.connect().catch((error: unknown) => {
        throw new OutboxError(`outbox ${t}: claim: ${errorOf(error).message}`, { cause: error });
      });
      try {
        await client.query('BEGIN');
        // The heads: due, unleased rows that are keyless or the oldest queued row of their key.
        // SKIP LOCKED: a head another replica is claiming right now is simply not ours.
        const heads = await client.query<Row>(
          `WITH due AS (
             SELECT seq FROM ${t} o
             WHERE o.state = 'queued' AND o.next_attempt_at <= $1 AND o.lease_until <= $1
               AND NOT (o.target = ANY($2::text[]))
               AND (o.msg_key IS NULL OR NOT EXISTS (
                 SELECT 1 FROM ${t} p WHERE p.state = 'queued' AND p.target = o.target
                   AND p.msg_key = o.msg_key AND p.seq < o.seq
                   AND (p.deliver_at IS NULL OR p.deliver_at <= $1)))
             ORDER BY o.seq LIMIT $3
             FOR UPDATE SKIP LOCKED)
           UPDATE ${t} SET lease_owner = $4, lease_until = $5 FROM due WHERE ${t}.seq = due.seq
           RETURNING ${t}.*`,
          [at, options.excludeTargets ?? [], options.limit, options.owner, at + options.leaseMs],
        );
        // The runs after the keyed heads we hold: nobody else can claim those rows (they are not
        // heads), so plain FOR UPDATE only waits for a late settle of an expired lease.
        const ordered = [...heads.rows].sort((x, y) => Number(x.seq) - Number(y.seq));
        const keyed = ordered.filter((h) => h.msg_key !== null);
        const before = followerBound(ordered, options.limit);
        const followers =
          keyed.length === 0
            ? []
            : (
                await client.query<RunRow>(
                  `SELECT f.seq, f.head, f.next_attempt_at, f.lease_until, f.deliver_at
                   FROM unnest($1::bigint[], $2::text[], $3::text[]) AS h(seq, target, msg_key)
                   CROSS JOIN LATERAL (
                     SELECT p.seq, h.seq AS head, p.next_attempt_at, p.lease_until, p.deliver_at FROM ${t} p
                     WHERE p.state = 'queued' AND p.target = h.target AND p.msg_key = h.msg_key
                       AND p.seq > h.seq AND ($5::bigint IS NULL OR p.seq < $5)
                     ORDER BY p.seq LIMIT $4 FOR UPDATE) f
                   ORDER BY f.seq`,
                  [
                    keyed.map((h) => h.seq),
                    keyed.map((h) => h.target),
                    keyed.map((h) => h.msg_key),
                    options.limit,
                    before ?? null,
                  ],
                )
              ).rows;
        const runs = new Map<string, RunRow[]>();
        for (const f of followers) {
          const run = runs.get(String(f.head));
          if (run) run.push(f);
          else runs.set(String(f.head), [f]);
        }
        const plan = planClaim(ordered, (head) => runs.get(String(head.seq)) ?? [], at, options.limit);
        const rows = [...plan.heads];
        // Heads the merge left out (later than `limit` rows of other runs) go back unleased.
        const kept = new Set(plan.heads.map((h) => String(h.seq)));
        const dropped = heads.rows.filter((h) => !kept.has(String(h.seq))).map((h) => h.seq);
        if (dropped.length > 0) {
          await client.query(
            `UPDATE ${t} SET lease_owner = NULL, lease_until = 0 WHERE seq = ANY($1::bigint[])`,
            [dropped],
          );
        }
        if (plan.followers.length > 0) {
          const leased = await client.query<Row>(
            `UPDATE ${t} SET lease_owner = $1, lease_until = $2 WHERE seq = ANY($3::bigint[]) RETURNING *`,
            [options.owner, at + options.leaseMs, plan.followers.map((f) => String(f.seq))],
          );
          rows.push(...leased.rows);
        }
        await client.query('COMMIT');
        return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(claimedOf);
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new OutboxError(`outbox ${t}: claim: ${errorOf(error).message}`, { cause: error });
      } finally {
        client.release();
      }
    },

    async nextDueAt(at) {
      const result = await query<{ at: string | null }>(
        'next due',
        `SELECT min(next_attempt_at) AS at FROM ${t} WHERE state = 'queued' AND next_attempt_at > $1`,
        [at],
      );
      const next = result.rows[0]?.at;
      return next === null || next === undefined ? undefined : Number(next);
    },

    async cancel(tenant, id, at) {
      // One statement on the newest row of the id. A claim holding that row locks it: this waits,
      // then sees it leased and leaves it (READ COMMITTED re-checks the WHERE on the new version).
      const result = await query(
        'cancel',
        `UPDATE ${t} SET state = 'cancelled', payload = NULL, updated_at = $3
         WHERE seq = (SELECT seq FROM ${t} WHERE tenant = $1 AND id = $2 ORDER BY seq DESC LIMIT 1)
           AND state = 'queued' AND deliver_at IS NOT NULL AND lease_owner IS NULL AND lease_until <= $3
           AND last_error IS NULL`,
        [tenant, id, at],
      );
      const cancelled = (result.rowCount ?? 0) > 0;
      if (cancelled) cached = { ...cached, at: 0 };
      const status = await outbox.status(tenant, id, at);
      if (!status) return { kind: 'not-found' };
      return cancelled || status.state === 'cancelled'
        ? { kind: 'cancelled', status }
        : { kind: 'not-cancellable', status };
    },

    async settle(settlements, owner, at) {
      if (settlements.length === 0) return;
      const client = await pool.connect().catch((error: unknown) => {
        throw new OutboxError(`outbox ${t}: settle: ${errorOf(error).message}`, { cause: error });
      });
      try {
        await client.query('BEGIN');
        for (const item of settlements) {
          if (item.kind === 'confirmed') {
            await client.query(
              `UPDATE ${t} SET state = 'confirmed', payload = NULL, attempts = $3, receipt = $4, lease_owner = NULL,
                 lease_until = 0, updated_at = $5 WHERE seq = $1 AND state = 'queued' AND lease_owner = $2`,
              [item.seq, owner, item.attempts, JSON.stringify(item.receipt), at],
            );
          } else if (item.kind === 'retry') {
            await client.query(
              `UPDATE ${t} SET attempts = $3, next_attempt_at = $4, last_error = $5, lease_owner = NULL,
                 lease_until = 0, updated_at = $6 WHERE seq = $1 AND state = 'queued' AND lease_owner = $2`,
              [item.seq, owner, item.attempts, item.nextAttemptAt, JSON.stringify(item.error), at],
            );
          } else {
            await client.query(
              `UPDATE ${t} SET state = 'dead', attempts = $3, last_error = $4, lease_owner = NULL,
                 lease_until = 0, updated_at = $5 WHERE seq = $1 AND state = 'queued' AND lease_owner = $2`,
              [item.seq, owner, item.attempts, JSON.stringify(item.error), at],
            );
          }
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new OutboxError(`outbox ${t}: settle: ${errorOf(error).message}`, { cause: error });
      } finally {
        client.release();
      }
    },

    recordStatus(records) {
      if (closed || records.length === 0) return;
      statusBuffer.push(...records);
      if (statusBuffer.length > 50_000) statusBuffer = statusBuffer.slice(-50_000);
      scheduleStatus();
    },

    async status(tenant, id, at = now()) {
      for (let i = statusBuffer.length - 1; i >= 0; i--) {
        const r = statusBuffer[i]!;
        if (r.envelope.tenant === tenant && r.envelope.id === id) {
          return {
            id,
            tenant,
            topic: r.envelope.topic,
            target: r.target,
            state: r.state,
            attempts: r.attempts,
            ...(r.receipt ? { receipt: r.receipt } : {}),
            ...(r.error ? { lastError: r.error } : {}),
            createdAt: r.envelope.createdAt,
            updatedAt: now(),
          };
        }
      }
      const result = await query<Row>(
        'status',
        `SELECT * FROM ${t} WHERE tenant = $1 AND id = $2 ORDER BY seq DESC LIMIT 1`,
        [tenant, id],
      );
      return result.rows[0] ? statusOf(result.rows[0], at) : undefined;
    },

    async listDead(filter, limit, cursor) {
      const result = await query<Row>(
        'list dead letters',
        `SELECT * FROM ${t} WHERE state = 'dead' AND ($1::text IS NULL OR tenant = $1)
           AND ($2::text IS NULL OR topic = $2) AND seq > $3 ORDER BY seq LIMIT $4`,
        [filter.tenant ?? null, filter.topic ?? null, cursor ?? '0', limit + 1],
      );
      const items = result.rows.slice(0, limit).map(deadOf);
      return result.rows.length > limit ? { items, nextCursor: items.at(-1)!.seq } : { items };
    },

    async getDead(id, tenant) {
      const result = await query<Row>(
        'get dead letter',
        `SELECT * FROM ${t} WHERE state = 'dead' AND id = $1 AND ($2::text IS NULL OR tenant = $2)
         ORDER BY seq DESC LIMIT 1`,
        [id, tenant ?? null],
      );
      return result.rows[0] ? deadOf(result.rows[0]) : undefined;
    },

    async replayDead(filter, at) {
      const result = await query(
        'replay dead letters',
        // accepted_at = now: the age (maxAgeMs) of a replayed message counts from its replay.
        `UPDATE ${t} SET state = 'queued', attempts = 0, next_attempt_at = $4, lease_owner = NULL, lease_until = 0,
           accepted_at = $4, updated_at = $4
         WHERE state = 'dead' AND payload IS NOT NULL AND ($1::text IS NULL OR tenant = $1)
           AND ($2::text IS NULL OR topic = $2) AND ($3::text IS NULL OR id = $3)`,
        [filter.tenant ?? null, filter.topic ?? null, filter.id ?? null, at],
      );
      return result.rowCount ?? 0;
    },

    async deleteDead(filter) {
      // One statement: the per-target counts are of exactly the rows it deleted.
      const result = await query<{ target: string; n: string }>(
        'delete dead letters',
        `WITH gone AS (
           DELETE FROM ${t} WHERE state = 'dead' AND ($1::text IS NULL OR tenant = $1)
             AND ($2::text IS NULL OR topic = $2) AND ($3::text IS NULL OR id = $3)
           RETURNING target)
         SELECT target, count(*) AS n FROM gone GROUP BY target`,
        [filter.tenant ?? null, filter.topic ?? null, filter.id ?? null],
      );
      return deletedOf(result.rows);
    },

    async counts() {
      const result = await query<{ state: string; n: string; bytes: string | null }>(
        'count',
        `SELECT state, count(*) AS n, sum(bytes) AS bytes FROM ${t} GROUP BY state`,
      );
      const counts = {
        queued: 0,
        scheduled: 0,
        cancelled: 0,
        confirmed: 0,
        failed: 0,
        dead: 0,
        queuedBytes: 0,
      };
      for (const row of result.rows) {
        if (row.state in counts) counts[row.state as 'queued'] = Number(row.n);
        if (row.state === 'queued') counts.queuedBytes = Number(row.bytes ?? 0);
      }
      const scheduled = await query<{ n: string }>(
        'count',
        `SELECT count(*) AS n FROM ${t} WHERE state = 'queued' AND deliver_at IS NOT NULL AND deliver_at > $1`,
        [now()],
      );
      counts.scheduled = Number(scheduled.rows[0]!.n);
      return counts;
    },

    async prune(at) {
      const a = await query(
        'prune',
        `DELETE FROM ${t} WHERE state IN ('confirmed', 'failed', 'cancelled') AND updated_at < $1`,
        [at - config.statusRetentionMs],
      );
      const b = await query('prune', `DELETE FROM ${t} WHERE state = 'dead' AND updated_at < $1`, [
        at - config.deadRetentionMs,
      ]);
      return (a.rowCount ?? 0) + (b.rowCount ?? 0);
    },

    async close() {
      if (closed) return;
      while (statusBuffer.length > 0 && opened) await flushStatus();
      closed = true;
      if (statusTimer) clearTimeout(statusTimer);
      await pool
        .end()
        .catch((error: unknown) => logger.warn({ err: error }, 'outbox pool did not close cleanly'));
    },
  };
  return outbox;
}
