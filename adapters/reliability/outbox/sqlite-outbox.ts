/**
 * The default outbox: one SQLite file (default ./data/outbox.db) owned by one gateway process.
 *
 * Durability: WAL with synchronous=FULL, so an append returns only after its transaction was
 * fsync'd — what a 202 promises. Appends arriving in the same event-loop turn share one
 * transaction (group commit, the same helper the embedded broker uses). Status rows of synchronous
 * publishes are buffered and written every `statusFlushMs` with synchronous=NORMAL: they describe
 * messages the broker already has, so losing the last few on power loss loses no message.
 *
 * Bounds: queued messages and their bytes are counted in memory (loaded at open) and checked before
 * the write, so `full` is answered without touching the disk. A store that cannot be written (not
 * open, SQLITE_FULL, I/O error, read-only file) answers `unavailable`. Either way nothing is kept.
 *
 * Not for several replicas: the file is locked exclusively by its process. Use postgres-outbox.ts.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createGroupCommitter, type GroupCommitter, type Logger } from '../../core/index.js';
import { claimedOf, deadOf, deletedOf, statusOf } from './rows.js';
import {
  OutboxError,
  followerBound,
  planClaim,
  errorOf,
  storedBytes,
  type AppendOutcome,
  type MessageStatus,
  type Outbox,
  type OutboxLimits,
  type OutboxMessage,
  type StatusRecord,
} from './outbox.js';

export interface SqliteOutboxConfig extends OutboxLimits {
  /** Database file; its directory is created if missing. */
  readonly file: string;
  /** Most messages appended in one transaction. Default: 1000. */
  readonly groupCommitMaxMessages?: number;
  /** How often buffered status rows are written. Default: 100. */
  readonly statusFlushMs?: number;
}

export interface SqliteOutboxDeps {
  readonly logger: Logger;
  readonly now?: () => number;
}

const SCHEMA_VERSION = 1;
/**
 * Page cache of the connection, in KiB: SQLite's own default (2 MiB), not better-sqlite3's 16 MiB,
 * which status rows of every sync publish filled up over minutes of load and kept as process memory.
 */
const CACHE_SIZE_KIB = 2048;
/** Status rows waiting to be written beyond this are dropped (status is best effort; messages are not). */
const MAX_BUFFERED_STATUS = 50_000;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL,
    tenant          TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    msg_key         TEXT,
    headers         TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    payload         BLOB,
    bytes           INTEGER NOT NULL,
    deliver_at      INTEGER,
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    receipt         TEXT,
    last_error      TEXT,
    accepted_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS outbox_by_id ON outbox (tenant, id, seq);
  CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at, seq) WHERE state = 'queued';
  CREATE INDEX IF NOT EXISTS outbox_by_key ON outbox (target, msg_key, seq) WHERE state = 'queued';
  CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (state, updated_at);
  CREATE INDEX IF NOT EXISTS outbox_dead ON outbox (tenant, topic, seq) WHERE state = 'dead';
  CREATE INDEX IF NOT EXISTS outbox_scheduled ON outbox (deliver_at) WHERE state = 'queued' AND deliver_at IS NOT NULL;
`;

/** Recorded on a delayed row whose claim a crash interrupted: it may be at the broker, so it is no longer cancellable. */
const INTERRUPTED = JSON.stringify({
  code: 'GW_ERR_RELAY_INTERRUPTED',
  message: 'the gateway stopped while this message was being published; it may have reached the broker',
});

interface Row {
  seq: number;
  id: string;
  tenant: string;
  topic: string;
  target: string;
  destination: string;
  msg_key: string | null;
  headers: string;
  content_type: string;
  payload: Buffer | null;
  bytes: number;
  deliver_at: number | null;
  created_at: number;
  state: string;
  attempts: number;
  next_attempt_at: number;
  lease_until: number;
  receipt: string | null;
  last_error: string | null;
  accepted_at: number;
  updated_at: number;
}

/** The dead rows a delete or purge takes: every given field must match. */
type DeadMatch = { tenant: string | null; topic: string | null; id: string | null };
const DEAD_MATCH = `state = 'dead' AND (@tenant IS NULL OR tenant = @tenant)
  AND (@topic IS NULL OR topic = @topic) AND (@id IS NULL OR id = @id)`;

type AppendItem = { message: OutboxMessage; bytes: number; state: 'queued' } | StatusItem;
type StatusItem = { record: StatusRecord; state: 'confirmed' | 'failed' };

export function createSqliteOutbox(config: SqliteOutboxConfig, deps: SqliteOutboxDeps): Outbox {
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'outbox', store: 'sqlite' });
  let db: Database.Database | undefined;
  let statements: ReturnType<typeof prepare> | undefined;
  let closed = false;
  let queuedCount = 0;
  let queuedBytes = 0;
  /** (target, key) of appends reserved but not committed yet: queued, though not in the table. */
  const appending = new Map<string, number>();
  const slot = (target: string, key: string) => `${target}\u0000${key}`;
  function countAppending(messages: readonly OutboxMessage[], delta: 1 | -1): void {
    for (const { target, envelope } of messages) {
      // A delayed message holds back nothing of its key (see queuedKeys).
      if (envelope.key === undefined || envelope.deliverAt !== undefined) continue;
      const name = slot(target, envelope.key);
      const n = (appending.get(name) ?? 0) + delta;
      if (n > 0) appending.set(name, n);
      else appending.delete(name);
    }
  }
  let statusBuffer: StatusRecord[] = [];
  let statusTimer: NodeJS.Timeout | undefined;
  let failing = false;

  function prepare(database: Database.Database) {
    const insert = database.prepare(
      `INSERT INTO outbox (id, tenant, topic, target, destination, msg_key, headers, content_type, payload, bytes,
         deliver_at, created_at, state, attempts, next_attempt_at, receipt, last_error, accepted_at, updated_at)
       VALUES (@id, @tenant, @topic, @target, @destination, @key, @headers, @contentType, @payload, @bytes,
         @deliverAt, @createdAt, @state, @attempts, @nextAttemptAt, @receipt, @lastError, @at, @at)`,
    );
    return {
      insert,
      insertMany: database.transaction((params: Record<string, unknown>[]) => {
        for (const p of params) insert.run(p);
      }),
      claim: database.prepare<{ now: number; limit: number; excluded: string }, Row>(
        // INDEXED BY: only due rows are read (not every queued row, e.g. thousands of scheduled
        // ones); without statistics SQLite would pick outbox_by_state and scan them all.
        `SELECT * FROM outbox o INDEXED BY outbox_due
         WHERE o.state = 'queued' AND o.next_attempt_at <= @now AND o.lease_until <= @now
           AND o.target NOT IN (SELECT value FROM json_each(@excluded))
           AND (o.msg_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM outbox p WHERE p.state = 'queued' AND p.target = o.target
               AND p.msg_key = o.msg_key AND p.seq < o.seq
               AND (p.deliver_at IS NULL OR p.deliver_at <= @now)))
         ORDER BY o.seq LIMIT @limit`,
      ),
      nextDue: database.prepare<{ now: number }, { at: number | null }>(
        `SELECT min(next_attempt_at) AS at FROM outbox INDEXED BY outbox_due
         WHERE state = 'queued' AND next_attempt_at > @now`,
      ),
      cancel: database.prepare<{ tenant: string; id: string; now: number }, { bytes: number }>(
        // The newest row of the id, if it is a delayed row no relay holds or has tried. One
        // statement: a claim (an IMMEDIATE transaction) runs wholly before or after it.
        `UPDATE outbox SET state = 'cancelled', payload = NULL, updated_at = @now
         WHERE seq = (SELECT seq FROM outbox WHERE tenant = @tenant AND id = @id ORDER BY seq DESC LIMIT 1)
           AND state = 'queued' AND deliver_at IS NOT NULL AND lease_owner IS NULL AND lease_until <= @now
           AND last_error IS NULL
         RETURNING bytes`,
      ),
      scheduledCount: database.prepare<{ now: number }, { n: number }>(
        `SELECT count(*) AS n FROM outbox INDEXED BY outbox_scheduled
         WHERE state = 'queued' AND deliver_at IS NOT NULL AND deliver_at > @now`,
      ),
      followers: database.prepare<
        { target: string; key: string; after: number; before: number; limit: number },
        Row
      >(
        `SELECT * FROM outbox WHERE state = 'queued' AND target = @target AND msg_key = @key
           AND seq > @after AND seq < @before
         ORDER BY seq LIMIT @limit`,
      ),
      keyQueued: database.prepare<{ target: string; key: string; now: number }, { one: number }>(
        `SELECT 1 AS one FROM outbox WHERE state = 'queued' AND target = @target AND msg_key = @key
           AND (deliver_at IS NULL OR deliver_at <= @now) LIMIT 1`,
      ),
      lease: database.prepare('UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE seq = ?'),
      confirm: database.prepare(
        `UPDATE outbox SET state = 'confirmed', payload = NULL, attempts = @attempts, receipt = @receipt,
           lease_owner = NULL, lease_until = 0, updated_at = @now
         WHERE seq = @seq AND state = 'queued' AND lease_owner = @owner RETURNING bytes`,
      ),
      retry: database.prepare(
        `UPDATE outbox SET attempts = @attempts, next_attempt_at = @nextAttemptAt, last_error = @lastError,
           lease_owner = NULL, lease_until = 0, updated_at = @now
         WHERE seq = @seq AND state = 'queued' AND lease_owner = @owner`,
      ),
      dead: database.prepare(
        `UPDATE outbox SET state = 'dead', attempts = @attempts, last_error = @lastError,
           lease_owner = NULL, lease_until = 0, updated_at = @now
         WHERE seq = @seq AND state = 'queued' AND lease_owner = @owner RETURNING bytes`,
      ),
      status: database.prepare<[string, string], Row>(
        'SELECT * FROM outbox WHERE tenant = ? AND id = ? ORDER BY seq DESC LIMIT 1',
      ),
      listDead: database.prepare<
        { tenant: string | null; topic: string | null; after: number; limit: number },
        Row
      >(
        `SELECT * FROM outbox WHERE state = 'dead' AND (@tenant IS NULL OR tenant = @tenant)
           AND (@topic IS NULL OR topic = @topic) AND seq > @after ORDER BY seq LIMIT @limit`,
      ),
      getDead: database.prepare<{ id: string; tenant: string | null }, Row>(
        `SELECT * FROM outbox WHERE state = 'dead' AND id = @id AND (@tenant IS NULL OR tenant = @tenant)
         ORDER BY seq DESC LIMIT 1`,
      ),
      replay: database.prepare<
        { tenant: string | null; topic: string | null; id: string | null; now: number },
        { bytes: number }
      >(
        // accepted_at = now: the age (maxAgeMs) of a replayed message counts from its replay.
        `UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = @now, lease_owner = NULL,
           lease_until = 0, accepted_at = @now, updated_at = @now
         WHERE state = 'dead' AND payload IS NOT NULL AND (@tenant IS NULL OR tenant = @tenant)
           AND (@topic IS NULL OR topic = @topic) AND (@id IS NULL OR id = @id) RETURNING bytes`,
      ),
      deadTargets: database.prepare<DeadMatch, { target: string; n: number }>(
        `SELECT target, count(*) AS n FROM outbox WHERE ${DEAD_MATCH} GROUP BY target`,
      ),
      deleteDead: database.prepare<DeadMatch>(`DELETE FROM outbox WHERE ${DEAD_MATCH}`),
      counts: database.prepare<[], { state: string; n: number; bytes: number | null }>(
        'SELECT state, count(*) AS n, sum(bytes) AS bytes FROM outbox GROUP BY state',
      ),
      pruneStatus: database.prepare(
        `DELETE FROM outbox WHERE state IN ('confirmed', 'failed', 'cancelled') AND updated_at < ?`,
      ),
      pruneDead: database.prepare(`DELETE FROM outbox WHERE state = 'dead' AND updated_at < ?`),
    };
  }

  function paramsOf(item: AppendItem, at: number): Record<string, unknown> {
    const envelope = 'message' in item ? item.message.envelope : item.record.envelope;
    const target = 'message' in item ? item.message.target : item.record.target;
    const queued = 'message' in item;
    const record = 'record' in item ? item.record : undefined;
    return {
      id: envelope.id,
      tenant: envelope.tenant,
      topic: envelope.topic,
      target,
      destination: envelope.destination,
      key: envelope.key ?? null,
      headers: JSON.stringify(envelope.headers),
      contentType: envelope.contentType,
      payload: queued
        ? Buffer.from(envelope.payload.buffer, envelope.payload.byteOffset, envelope.payload.byteLength)
        : null,
      bytes: queued ? item.bytes : 0,
      deliverAt: envelope.deliverAt ?? null,
      createdAt: envelope.createdAt,
      state: item.state,
      attempts: record?.attempts ?? 0,
      nextAttemptAt: queued ? (envelope.deliverAt ?? 0) : 0,
      receipt: record?.receipt ? JSON.stringify(record.receipt) : null,
      lastError: record?.error ? JSON.stringify(record.error) : null,
      at,
    };
  }

  const committer: GroupCommitter<AppendItem, AppendOutcome> = createGroupCommitter<
    AppendItem,
    AppendOutcome
  >({
    maxItems: config.groupCommitMaxMessages ?? 1000,
    abortError: (signal) =>
      new OutboxError('outbox append aborted before it was written', { cause: signal.reason }),
    commit(items) {
      try {
        if (!db || !statements) throw new OutboxError(`outbox ${config.file} is not open`);
        const at = now();
        statements.insertMany(items.map((item) => paramsOf(item, at)));
        if (failing) {
          failing = false;
          logger.info({ file: config.file }, 'outbox writes recovered');
        }
        return items.map((): AppendOutcome => ({ kind: 'appended' }));
      } catch (error) {
        const detail = `outbox ${config.file} cannot be written: ${errorOf(error).message}`;
        if (!failing) {
          failing = true;
          logger.error(
            { file: config.file, err: error },
            'outbox cannot be written; async publishes answer 503',
          );
        }
        return items.map((): AppendOutcome => ({ kind: 'unavailable', detail }));
      }
    },
  });

  function usable() {
    if (closed) throw new OutboxError('outbox is closed');
    if (!db || !statements) throw new OutboxError(`outbox ${config.file} is not open`);
    return { database: db, s: statements };
  }

  function wrap<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof OutboxError) throw error;
      throw new OutboxError(`outbox ${config.file}: ${what}: ${errorOf(error).message}`, { cause: error });
    }
  }

  function flushStatus(): void {
    if (statusTimer) clearTimeout(statusTimer);
    statusTimer = undefined;
    if (statusBuffer.length === 0 || !db || !statements) return;
    const records = statusBuffer;
    statusBuffer = [];
    const at = now();
    try {
      // Status is not the message: NORMAL (no fsync per commit) is enough, and it keeps the
      // status writes from competing with appends for the disk.
      db.pragma('synchronous = NORMAL');
      statements.insertMany(records.map((record) => paramsOf({ record, state: record.state }, at)));
    } catch (error) {
      logger.warn({ err: error, dropped: records.length }, 'could not write message status rows');
    } finally {
      try {
        db.pragma('synchronous = FULL');
      } catch (error) {
        logger.error({ err: error }, 'could not restore synchronous=FULL on the outbox');
      }
    }
  }

  const outbox: Outbox = {
    kind: 'sqlite',
    async open() {
      if (closed) throw new OutboxError('outbox is closed');
      if (db) return;
      let database: Database.Database | undefined;
      try {
        mkdirSync(path.dirname(config.file), { recursive: true });
        database = new Database(config.file, { timeout: 2_000 });
        database.pragma('locking_mode = EXCLUSIVE');
        const mode = database.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal') throw new Error(`SQLite refused WAL mode (journal_mode is ${String(mode)})`);
        database.pragma('synchronous = FULL');
        database.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
        const version = Number(database.pragma('user_version', { simple: true }));
        if (version > SCHEMA_VERSION) {
          throw new Error(`schema version ${version}; this pubgate understands up to ${SCHEMA_VERSION}`);
        }
        const ready = database;
        let released = 0;
        ready
          .transaction(() => {
            ready.exec(SCHEMA);
            ready.pragma(`user_version = ${SCHEMA_VERSION}`);
            // The file is this process's alone (locking_mode EXCLUSIVE), so a lease still held is a
            // dead process's: one that crashed mid-publish. Waiting it out would stall those rows —
            // and every later row of their keys — for leaseMs; they are released now instead (their
            // message may go out twice, with the same id).
            // A delayed one among them may be at the broker already: it is marked so, which also
            // makes it no longer cancellable.
            released = ready
              .prepare(
                `UPDATE outbox SET lease_owner = NULL, lease_until = 0,
                   last_error = CASE WHEN deliver_at IS NOT NULL THEN coalesce(last_error, ?) ELSE last_error END
                 WHERE state = 'queued' AND lease_until > 0`,
              )
              .run(INTERRUPTED).changes;
          })
          .immediate();
        if (released > 0) {
          logger.warn({ file: config.file, released }, 'released leases left by a previous process (crash)');
        }
        const prepared = prepare(ready);
        for (const row of prepared.counts.all()) {
          if (row.state === 'queued') {
            queuedCount = row.n;
            queuedBytes = row.bytes ?? 0;
          }
        }
        db = ready;
        statements = prepared;
      } catch (error) {
        database?.close();
        throw new OutboxError(`cannot open outbox ${config.file}: ${errorOf(error).message}`, {
          cause: error,
        });
      }
      logger.info({ file: config.file, queued: queuedCount, synchronous: 'FULL' }, 'outbox opened');
    },

    async append(messages, signal) {
      if (closed) return { kind: 'unavailable', detail: 'the outbox is closed' };
      if (!db) return { kind: 'unavailable', detail: `the outbox ${config.file} is not open` };
      const sizes = messages.map((m) => storedBytes(m.envelope));
      const bytes = sizes.reduce((a, b) => a + b, 0);
      if (queuedCount + messages.length > config.maxMessages || queuedBytes + bytes > config.maxBytes) {
        return {
          kind: 'full',
          detail: `the outbox holds ${queuedCount} queued messages (${queuedBytes} bytes); limits are ${config.maxMessages} messages and ${config.maxBytes} bytes`,
        };
      }
      // Reserve before the write so concurrent appends cannot overshoot the bounds together.
      queuedCount += messages.length;
      queuedBytes += bytes;
      let results: AppendOutcome[];
      countAppending(messages, 1);
      try {
        results = await committer.submit(
          messages.map((message, i) => ({ message, bytes: sizes[i]!, state: 'queued' as const })),
          signal,
        );
      } catch (error) {
        queuedCount -= messages.length;
        queuedBytes -= bytes;
        return { kind: 'unavailable', detail: errorOf(error).message };
      } finally {
        countAppending(messages, -1);
      }
      const failed = results.find((r) => r.kind !== 'appended');
      if (failed) {
        queuedCount -= messages.length;
        queuedBytes -= bytes;
        return failed;
      }
      return { kind: 'appended' };
    },

    async queuedKeys(target, keys) {
      const found = new Set<string>();
      // queuedCount includes reserved appends: 0 means nothing is queued or on its way.
      if (keys.length === 0 || queuedCount === 0) return found;
      const { s } = usable();
      return wrap('queued keys', () => {
        for (const key of new Set(keys)) {
          if (appending.has(slot(target, key)) || s.keyQueued.get({ target, key, now: now() }))
            found.add(key);
        }
        return found;
      });
    },

    async claim(options, at) {
      const { database, s } = usable();
      return wrap('claim', () =>
        database
          .transaction(() => {
            const heads = s.claim.all({
              now: at,
              limit: options.limit,
              excluded: JSON.stringify(options.excludeTargets ?? []),
            });
            const before = followerBound(heads, options.limit) ?? Number.MAX_SAFE_INTEGER;
            const plan = planClaim(
              heads,
              (head) =>
                s.followers.all({
                  target: head.target,
                  key: head.msg_key!,
                  after: head.seq,
                  before,
                  limit: options.limit,
                }),
              at,
              options.limit,
            );
            const rows = [...plan.heads, ...plan.followers].sort((a, b) => a.seq - b.seq);
            for (const row of rows) s.lease.run(options.owner, at + options.leaseMs, row.seq);
            return rows.map(claimedOf);
          })
          .immediate(),
      );
    },

    async nextDueAt(at) {
      const { s } = usable();
      const row = wrap('next due', () => s.nextDue.get({ now: at }));
      return row?.at ?? undefined;
    },

    async cancel(tenant, id, at) {
      const { s } = usable();
      const row = wrap('cancel', () => s.cancel.get({ tenant, id, now: at }));
      if (row) release(row.bytes);
      const status = await outbox.status(tenant, id, at);
      if (!status) return { kind: 'not-found' };
      return row || status.state === 'cancelled'
        ? { kind: 'cancelled', status }
        : { kind: 'not-cancellable', status };
    },

    async settle(settlements, owner, at) {
      const { database, s } = usable();
      wrap('settle', () =>
        database
          .transaction(() => {
            for (const item of settlements) {
              const base = { seq: Number(item.seq), owner, now: at, attempts: item.attempts };
              if (item.kind === 'confirmed') {
                const row = s.confirm.get({ ...base, receipt: JSON.stringify(item.receipt) }) as
                  { bytes: number } | undefined;
                if (row) release(row.bytes);
              } else if (item.kind === 'retry') {
                s.retry.run({
                  ...base,
                  nextAttemptAt: item.nextAttemptAt,
                  lastError: JSON.stringify(item.error),
                });
              } else {
                const row = s.dead.get({ ...base, lastError: JSON.stringify(item.error) }) as
                  { bytes: number } | undefined;
                if (row) release(row.bytes);
              }
            }
          })
          .immediate(),
      );
    },

    recordStatus(records) {
      if (closed || records.length === 0) return;
      statusBuffer.push(...records);
      if (statusBuffer.length > MAX_BUFFERED_STATUS) {
        statusBuffer.splice(0, statusBuffer.length - MAX_BUFFERED_STATUS);
      }
      if (!statusTimer) {
        statusTimer = setTimeout(flushStatus, config.statusFlushMs ?? 100);
        statusTimer.unref();
      }
    },

    async status(tenant, id, at = now()) {
      // Buffered status rows are the newest news about a message published synchronously.
      for (let i = statusBuffer.length - 1; i >= 0; i--) {
        const record = statusBuffer[i]!;
        if (record.envelope.tenant === tenant && record.envelope.id === id)
          return statusOfRecord(record, now());
      }
      const { s } = usable();
      const row = wrap('status', () => s.status.get(tenant, id));
      return row ? statusOf(row, at) : undefined;
    },

    async listDead(filter, limit, cursor) {
      const { s } = usable();
      const after = cursor === undefined ? 0 : Number(cursor);
      const rows = wrap('list dead letters', () =>
        s.listDead.all({
          tenant: filter.tenant ?? null,
          topic: filter.topic ?? null,
          after: Number.isSafeInteger(after) ? after : 0,
          limit: limit + 1,
        }),
      );
      const items = rows.slice(0, limit).map(deadOf);
      return rows.length > limit ? { items, nextCursor: items.at(-1)!.seq } : { items };
    },

    async getDead(id, tenant) {
      const { s } = usable();
      const row = wrap('get dead letter', () => s.getDead.get({ id, tenant: tenant ?? null }));
      return row ? deadOf(row) : undefined;
    },

    async replayDead(filter, at) {
      const { s } = usable();
      const rows = wrap('replay dead letters', () =>
        s.replay.all({
          tenant: filter.tenant ?? null,
          topic: filter.topic ?? null,
          id: filter.id ?? null,
          now: at,
        }),
      );
      for (const row of rows) {
        queuedCount += 1;
        queuedBytes += row.bytes;
      }
      return rows.length;
    },

    async deleteDead(filter) {
      const { database, s } = usable();
      const match = { tenant: filter.tenant ?? null, topic: filter.topic ?? null, id: filter.id ?? null };
      // One transaction: the per-target counts are of exactly the rows deleted.
      const targets = wrap('delete dead letters', () =>
        database
          .transaction(() => {
            const counted = s.deadTargets.all(match);
            if (counted.length > 0) s.deleteDead.run(match);
            return counted;
          })
          .immediate(),
      );
      return deletedOf(targets);
    },

    async counts() {
      const { s } = usable();
      const counts = {
        queued: 0,
        scheduled: 0,
        cancelled: 0,
        confirmed: 0,
        failed: 0,
        dead: 0,
        queuedBytes: 0,
      };
      for (const row of wrap('count', () => s.counts.all())) {
        if (row.state in counts) counts[row.state as 'queued'] = row.n;
        if (row.state === 'queued') counts.queuedBytes = row.bytes ?? 0;
      }
      counts.scheduled = wrap('count', () => s.scheduledCount.get({ now: now() })?.n ?? 0);
      return counts;
    },

    async prune(at) {
      const { s } = usable();
      return wrap('prune', () => {
        const a = s.pruneStatus.run(at - config.statusRetentionMs).changes;
        const b = s.pruneDead.run(at - config.deadRetentionMs).changes;
        return a + b;
      });
    },

    async close() {
      if (closed) return;
      committer.flush();
      flushStatus();
      closed = true;
      try {
        db?.close();
      } catch (error) {
        logger.warn({ err: error }, 'outbox did not close cleanly');
      }
      if (db) logger.info({ file: config.file }, 'outbox closed');
      db = undefined;
      statements = undefined;
    },
  };

  function release(bytes: number): void {
    queuedCount = Math.max(0, queuedCount - 1);
    queuedBytes = Math.max(0, queuedBytes - bytes);
  }

  return outbox;
}

function statusOfRecord(record: StatusRecord, at: number): MessageStatus {
  return {
    id: record.envelope.id,
    tenant: record.envelope.tenant,
    topic: record.envelope.topic,
    target: record.target,
    state: record.state,
    attempts: record.attempts,
    ...(record.receipt === undefined ? {} : { receipt: record.receipt }),
    ...(record.error === undefined ? {} : { lastError: record.error }),
    createdAt: record.envelope.createdAt,
    updatedAt: at,
  };
}
