/**
 * The embedded broker's storage: an append-only log per destination in one SQLite file.
 *
 * Durability: WAL journal with `synchronous=FULL`. In WAL mode, NORMAL fsyncs the WAL only at
 * checkpoints, so a committed transaction survives a process crash but can be lost on power loss
 * or an OS crash. FULL fsyncs the WAL at every commit, so once `append` returns the messages are on
 * disk — which is what the broker's confirm promises. Group commit (in the adapter) keeps that to
 * one fsync per group of messages.
 *
 * Ownership: the file is opened with `locking_mode=EXCLUSIVE`, so the first write takes a lock held
 * until close; a second connection (another process, or a second adapter on the same directory)
 * fails with SQLITE_BUSY instead of interleaving offsets. In exclusive mode SQLite also keeps the WAL
 * index in process memory (no -shm file). A reload that replaces the target's adapter does not open
 * the file a second time: the new adapter takes over this store from the old one (embedded-adapter.ts).
 *
 * better-sqlite3 is synchronous: a commit blocks the event loop for its fsync (typically 1–10 ms on
 * local disks). Group commit pays that once per event-loop turn, not once per message.
 */
import Database from 'better-sqlite3';
import { splitSequenceHeaders, type MessageEnvelope, type StoredMessage } from '../core/index.js';

/** Bumped when the table layout changes; a file written by a newer layout is refused. */
const SCHEMA_VERSION = 1;

/**
 * How long a statement waits for a lock held elsewhere before failing with SQLITE_BUSY: not at all.
 * better-sqlite3 is synchronous, so a busy wait would freeze the event loop (every request of the
 * gateway) for its whole length. A file locked by another process fails its connect at once, and the
 * gateway retries the connect asynchronously with backoff (gateway/targets.ts).
 */
export const BUSY_TIMEOUT_MS = 0;

/**
 * Page cache of the connection, in KiB: SQLite's own default (2 MiB). better-sqlite3 builds SQLite
 * with 16 MiB per connection, and an append-only log keeps touching new pages, so under load that
 * cache filled up over minutes and stayed as process memory, for pages that are rarely read again.
 * An append needs only the right edge of each B-tree; readers mostly read the recent tail.
 */
export const CACHE_SIZE_KIB = 2048;

/** Size the WAL file is truncated back to after a checkpoint (SQLite checkpoints every ~4 MiB of WAL). */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

// `messages` is the log. `destinations` keeps each destination's next offset, so offsets keep
// growing after retention deleted every message of a destination (a consumer's position stays valid).
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS messages (
    destination  TEXT    NOT NULL,
    log_offset   INTEGER NOT NULL,
    id           TEXT    NOT NULL,
    tenant       TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    key          TEXT,
    headers      TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    payload      BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    stored_at    INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX IF NOT EXISTS messages_by_offset ON messages (destination, log_offset);
  CREATE INDEX IF NOT EXISTS messages_by_age ON messages (stored_at);
  CREATE TABLE IF NOT EXISTS destinations (
    name        TEXT    PRIMARY KEY,
    next_offset INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

export interface AppendOptions {
  /** The broker's clock, stored as `stored_at` and used for age retention. */
  readonly now: number;
  /** Also delete messages stored before this time (age retention), in the same transaction. */
  readonly expireBefore?: number;
  /** Keep at most this many of the newest messages of each destination written (count retention). */
  readonly maxMessagesPerTopic?: number;
}

export interface AppendOutcome {
  /** The offset given to each envelope, in input order. */
  readonly offsets: bigint[];
  /** Messages removed by retention in this transaction. */
  readonly deleted: number;
}

export interface LogStore {
  readonly file: string;
  /** Writes every envelope in ONE transaction (one fsync) and returns after the commit. Throws SQLite errors. */
  append(envelopes: readonly MessageEnvelope[], options: AppendOptions): AppendOutcome;
  /** Messages of one destination with offset >= from, ordered by offset, at most `limit`. */
  read(destination: string, from: bigint, limit: number): StoredMessage[];
  /** The offset the next message of `destination` will get (0 if never written). */
  nextOffset(destination: string): bigint;
  /** Runs a trivial query; throws if the database is not usable. */
  ping(): void;
  destinationCount(): number;
  close(): void;
}

interface MessageRow {
  id: string;
  tenant: string;
  topic: string;
  key: string | null;
  headers: string;
  content_type: string;
  payload: Buffer;
  log_offset: bigint;
  created_at: bigint;
}

/** Opens (creating if needed) the database file. Throws SQLite errors; the caller classifies them. */
export function openLogStore(file: string): LogStore {
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    // Order matters: exclusive locking must be set before the first access switches to WAL.
    db.pragma('locking_mode = EXCLUSIVE');
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal')
      throw new Error(`SQLite refused WAL mode for ${file} (journal_mode is ${String(mode)})`);
    db.pragma('synchronous = FULL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
    // After a checkpoint, shrink a WAL that a burst grew past this, instead of keeping it at its peak.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);

    const version = Number(db.pragma('user_version', { simple: true }));
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `${file} has schema version ${version}; this pubgate understands up to ${SCHEMA_VERSION}`,
      );
    }
    db.transaction(() => {
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  } catch (error) {
    db.close();
    throw error;
  }

  const insert = db.prepare(
    `INSERT INTO messages (destination, log_offset, id, tenant, topic, key, headers, content_type, payload, created_at, stored_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const selectNext = db
    .prepare<[string], bigint>('SELECT next_offset FROM destinations WHERE name = ?')
    .pluck()
    .safeIntegers(true);
  const upsertNext = db.prepare(
    `INSERT INTO destinations (name, next_offset) VALUES (?, ?)
     ON CONFLICT (name) DO UPDATE SET next_offset = excluded.next_offset`,
  );
  const deleteOlderThanOffset = db.prepare('DELETE FROM messages WHERE destination = ? AND log_offset < ?');
  const deleteStoredBefore = db.prepare('DELETE FROM messages WHERE stored_at < ?');
  const selectRange = db
    .prepare<[string, bigint, number], MessageRow>(
      `SELECT id, tenant, topic, key, headers, content_type, payload, log_offset, created_at
       FROM messages WHERE destination = ? AND log_offset >= ? ORDER BY log_offset LIMIT ?`,
    )
    .safeIntegers(true);
  const countDestinations = db
    .prepare<[], bigint>('SELECT count(*) FROM destinations')
    .pluck()
    .safeIntegers(true);
  const selectOne = db.prepare('SELECT 1').pluck();

  const next = (destination: string): bigint => selectNext.get(destination) ?? 0n;

  const appendTransaction = db.transaction(
    (envelopes: readonly MessageEnvelope[], options: AppendOptions) => {
      const nextByDestination = new Map<string, bigint>();
      const offsets: bigint[] = [];
      for (const envelope of envelopes) {
        const offset = nextByDestination.get(envelope.destination) ?? next(envelope.destination);
        insert.run(
          envelope.destination,
          offset,
          envelope.id,
          envelope.tenant,
          envelope.topic,
          envelope.key ?? null,
          JSON.stringify(envelope.headers),
          envelope.contentType,
          Buffer.from(envelope.payload.buffer, envelope.payload.byteOffset, envelope.payload.byteLength),
          envelope.createdAt,
          options.now,
        );
        offsets.push(offset);
        nextByDestination.set(envelope.destination, offset + 1n);
      }
      let deleted = 0;
      for (const [destination, nextOffset] of nextByDestination) {
        upsertNext.run(destination, nextOffset);
        if (options.maxMessagesPerTopic !== undefined) {
          const keepFrom = nextOffset - BigInt(options.maxMessagesPerTopic);
          if (keepFrom > 0n) deleted += deleteOlderThanOffset.run(destination, keepFrom).changes;
        }
      }
      if (options.expireBefore !== undefined) deleted += deleteStoredBefore.run(options.expireBefore).changes;
      return { offsets, deleted };
    },
  );

  return {
    file,
    // `.immediate` takes the write lock up front; the commit (and its fsync) happens before this returns.
    append: (envelopes, options) => appendTransaction.immediate(envelopes, options),
    read(destination, from, limit) {
      return selectRange.all(destination, from, limit).map((row) => ({
        id: row.id,
        tenant: row.tenant,
        topic: row.topic,
        ...(row.key === null ? {} : { key: row.key }),
        ...splitSequenceHeaders(JSON.parse(row.headers) as Record<string, string>),
        contentType: row.content_type,
        payload: row.payload,
        offset: row.log_offset.toString(),
        createdAt: Number(row.created_at),
      }));
    },
    nextOffset: next,
    ping() {
      selectOne.get();
    },
    destinationCount: () => Number(countDestinations.get() ?? 0n),
    close() {
      // Closing checkpoints the WAL into the main file and removes the -wal file.
      if (db.open) db.close();
    },
  };
}
