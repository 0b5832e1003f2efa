/**
 * The outbox: a durable store of messages the gateway accepted (202) but a broker has not yet
 * confirmed, plus the delivery status of every recent message (also the ones confirmed at once).
 *
 * Rows move queued → confirmed | dead (a dead row can be replayed → queued, or deleted). Status-only
 * rows (sync publishes) are written confirmed or failed and carry no payload.
 *
 * Delayed delivery: a message with `deliverAt` is appended queued with `deliver_at` and
 * `next_attempt_at` set to it, and no claim takes it before then; until then its status reads
 * `scheduled`. A scheduled message that no relay has claimed or tried yet can be cancelled:
 * queued → cancelled (payload dropped), in one statement that a concurrent claim excludes, so a
 * message is never both cancelled and sent. Per key, a row that is not due yet does not hold back
 * the later rows of its key; once due, it takes its place in the key's order by append order (it
 * waits for the key's earlier rows still queued, and goes before the later ones still queued).
 *
 * Two times per row: `created_at`, when the gateway took the message in (the envelope's; never
 * changes, shown as createdAt), and `accepted_at`, when it last entered the queue — appended, or
 * replayed from the dead letters. The relay's `maxAgeMs` counts from `accepted_at`, so a replay
 * gives the message a fresh age as well as fresh attempts.
 *
 * Implementations: sqlite-outbox.ts (one gateway process; the default) and postgres-outbox.ts
 * (several replicas share one table; claims use a lease and FOR UPDATE SKIP LOCKED).
 *
 * Expected outcomes are values (append → appended | full | unavailable); methods the relay and the
 * admin API call reject only with OutboxError when the store cannot be used.
 */
import type { MessageEnvelope, PublishReceipt } from '../../core/index.js';

/**
 * `scheduled` is a queued row whose `deliverAt` is still ahead (derived when read, not stored);
 * `cancelled` a scheduled one cancelled before it was due or tried.
 */
export type MessageState = 'queued' | 'scheduled' | 'confirmed' | 'failed' | 'dead' | 'cancelled';

export interface OutboxMessage {
  readonly envelope: MessageEnvelope;
  /** Broker target name the relay publishes it to. */
  readonly target: string;
}

export interface StoredError {
  readonly code: string;
  readonly message: string;
}

export interface MessageStatus {
  readonly id: string;
  readonly tenant: string;
  readonly topic: string;
  readonly target: string;
  readonly state: MessageState;
  readonly attempts: number;
  readonly receipt?: PublishReceipt;
  readonly lastError?: StoredError;
  /** When a delayed message is (or was) due, epoch ms. */
  readonly deliverAt?: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What cancel() did to message `id`. */
export type CancelOutcome =
  | { readonly kind: 'cancelled'; readonly status: MessageStatus }
  /** Known, but not a scheduled message that is still untouched (sent, being sent, or never delayed). */
  | { readonly kind: 'not-cancellable'; readonly status: MessageStatus }
  | { readonly kind: 'not-found' };

/** A queued row claimed by a relay: the whole message, and its row handle. */
export interface ClaimedRow {
  /** Store-wide sequence number (the append order); the handle for settle(). */
  readonly seq: string;
  readonly target: string;
  readonly envelope: MessageEnvelope;
  readonly attempts: number;
  /** When the message last entered the queue: appended, or replayed (epoch ms); bounds its age. */
  readonly acceptedAt: number;
}

/** What `claimableRun` needs of a queued row after a key's head. */
export interface RunCandidate {
  readonly next_attempt_at: number | string;
  readonly lease_until: number | string;
  readonly deliver_at?: number | string | null;
}

/** A delayed row that is not due yet: it neither joins nor cuts its key's run. */
export function scheduledAt(row: { readonly deliver_at?: number | string | null }, now: number): boolean {
  return row.deliver_at !== undefined && row.deliver_at !== null && Number(row.deliver_at) > now;
}

/**
 * The rows after a claimed key head that join its run: `followers` (the key's next queued rows,
 * in seq order) up to the first one that is not due yet (it waits out a retry backoff, so the rows
 * after it must wait too) or still leased, and at most `budget` of them. A delayed row whose
 * deliverAt is still ahead is stepped over: it holds nothing back.
 */
export function claimableRun<T extends RunCandidate>(
  followers: readonly T[],
  now: number,
  budget: number,
): T[] {
  const run: T[] = [];
  for (const row of followers) {
    if (run.length >= budget) break;
    if (scheduledAt(row, now)) continue;
    if (Number(row.next_attempt_at) > now || Number(row.lease_until) > now) break;
    run.push(row);
  }
  return run;
}

/** What `planClaim` needs of a claimable head (keyless row or oldest queued row of its key). */
export interface HeadCandidate {
  readonly seq: number | string;
  readonly msg_key: string | null;
}

/**
 * The highest seq a head's follower can have and still make a claim of `limit` rows: when the
 * heads alone fill the claim, a row after the last head is beyond it. Undefined: no bound.
 */
export function followerBound(heads: readonly HeadCandidate[], limit: number): number | undefined {
  return heads.length >= limit && heads.length > 0 ? Number(heads[heads.length - 1]!.seq) : undefined;
}

/**
 * Which rows one claim takes: the heads (keyless rows and the oldest queued row of each key, in
 * seq order) and each keyed head's run (`claimableRun` of its followers), merged in seq order and
 * cut at `limit`. A key's rows are taken as a prefix of its run from its head, so a claim stays
 * ordered per key and never holds a key's later rows without the earlier ones; and a backlog
 * drains in append order whatever its mix of keys (heads first would fill the claim with keyless
 * rows while each key gave one row per claim).
 */
export function planClaim<
  H extends HeadCandidate,
  F extends RunCandidate & { readonly seq: number | string },
>(
  heads: readonly H[],
  followersOf: (head: H) => readonly F[],
  now: number,
  limit: number,
): { readonly heads: H[]; readonly followers: F[] } {
  const candidates: Array<{ seq: number; head?: H; follower?: F }> = [];
  for (const head of heads) {
    candidates.push({ seq: Number(head.seq), head });
    if (head.msg_key === null) continue;
    for (const follower of claimableRun(followersOf(head), now, limit)) {
      candidates.push({ seq: Number(follower.seq), follower });
    }
  }
  candidates.sort((a, b) => a.seq - b.seq);
  const taken = candidates.slice(0, limit);
  return {
    heads: taken.flatMap((c) => (c.head ? [c.head] : [])),
    followers: taken.flatMap((c) => (c.follower ? [c.follower] : [])),
  };
}

export type DeadLetter = MessageStatus & {
  readonly seq: string;
  readonly destination: string;
  readonly key?: string;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Uint8Array;
  readonly payloadBytes: number;
  /** When it last entered the queue (appended, or replayed); its age counted from there. */
  readonly queuedAt: number;
};

export type Settlement =
  | {
      readonly seq: string;
      readonly kind: 'confirmed';
      readonly attempts: number;
      readonly receipt: PublishReceipt;
    }
  | {
      readonly seq: string;
      readonly kind: 'retry';
      readonly attempts: number;
      readonly nextAttemptAt: number;
      readonly error: StoredError;
    }
  | { readonly seq: string; readonly kind: 'dead'; readonly attempts: number; readonly error: StoredError };

/** A status-only record for a message published synchronously (nothing to relay). */
export interface StatusRecord {
  readonly envelope: MessageEnvelope;
  readonly target: string;
  readonly state: 'confirmed' | 'failed';
  readonly attempts: number;
  readonly receipt?: PublishReceipt;
  readonly error?: StoredError;
}

export type AppendOutcome =
  | { readonly kind: 'appended' }
  /** Over maxMessages / maxBytes: nothing was kept. */
  | { readonly kind: 'full'; readonly detail: string }
  /** The store cannot be written (not open, disk full, I/O error, database down): nothing was kept. */
  | { readonly kind: 'unavailable'; readonly detail: string };

export interface ClaimOptions {
  readonly limit: number;
  /** The relay instance claiming; only it may settle the rows while the lease lasts. */
  readonly owner: string;
  readonly leaseMs: number;
  /** Targets to skip (backing off while they are down). */
  readonly excludeTargets?: readonly string[];
}

export interface DeadLetterFilter {
  readonly tenant?: string;
  readonly topic?: string;
}

/** Dead messages deleted (DELETE one, or a purge). */
export interface DeletedDeadLetters {
  readonly deleted: number;
  /** How many of them each target had. */
  readonly byTarget: Readonly<Record<string, number>>;
}

export interface DeadLetterPage {
  readonly items: DeadLetter[];
  /** Pass as `cursor` to read the next page; absent on the last page. */
  readonly nextCursor?: string;
}

export interface OutboxCounts {
  /** Every queued row, the scheduled ones included. */
  readonly queued: number;
  /** Queued rows whose deliverAt is still ahead. */
  readonly scheduled: number;
  readonly cancelled: number;
  readonly confirmed: number;
  readonly failed: number;
  readonly dead: number;
  readonly queuedBytes: number;
}

export interface Outbox {
  readonly kind: string;
  /** Opens (creating the table if needed). Rejects with OutboxError; append answers unavailable until it succeeds. */
  open(signal?: AbortSignal): Promise<void>;
  /**
   * Durably stores the messages, all or none, and resolves after the commit (fsync'd). Concurrent
   * appends share one commit (group commit).
   */
  append(messages: readonly OutboxMessage[], signal?: AbortSignal): Promise<AppendOutcome>;
  /**
   * Claims due queued rows for one relay, in seq order. A key's rows are claimable only as a run
   * that starts at the oldest queued row of that (target, key): the head, then the rows after it
   * while they are due and not leased (see `claimableRun`). Nobody else can claim a key's later
   * rows while its head is queued, so the claimer publishes the run in order and a key never has
   * two relays' messages in flight. Keyless rows are claimed freely. A row is never claimed before
   * its next_attempt_at (a delayed row's deliverAt); a delayed row not due yet is no key's head.
   */
  claim(options: ClaimOptions, now: number): Promise<ClaimedRow[]>;
  /**
   * The earliest next_attempt_at after `now` of a queued row (a delayed message or a retry), so the
   * relay can sleep until then rather than a poll interval; undefined when there is none.
   */
  nextDueAt(now: number): Promise<number | undefined>;
  /**
   * Cancels scheduled message `id` of `tenant` (its newest row): only a delayed row that is queued,
   * not claimed and never tried. Atomic with respect to claim(): a row being claimed is either
   * claimed (not-cancellable) or cancelled (never claimed). Cancelling a cancelled one answers
   * cancelled again.
   */
  cancel(tenant: string, id: string, now: number): Promise<CancelOutcome>;
  /**
   * Which of `keys` have queued rows for `target` (rows a relay holds right now, and appends not
   * yet committed, included; delayed rows not due yet excluded, since they hold nothing back). A sync publish of such a key is queued behind them rather than sent
   * past them, so a key's messages keep their order across a spool. A store that waits on I/O
   * gives up when `signal` aborts (the request's deadline).
   */
  queuedKeys(target: string, keys: readonly string[], signal?: AbortSignal): Promise<ReadonlySet<string>>;
  settle(settlements: readonly Settlement[], owner: string, now: number): Promise<void>;
  /** Buffers status rows of synchronous publishes; written in the background, not fsync'd. */
  recordStatus(records: readonly StatusRecord[]): void;
  /** The newest status of message `id` of `tenant` (`scheduled` while its deliverAt is ahead of `now`). */
  status(tenant: string, id: string, now?: number): Promise<MessageStatus | undefined>;
  listDead(filter: DeadLetterFilter, limit: number, cursor?: string): Promise<DeadLetterPage>;
  getDead(id: string, tenant?: string): Promise<DeadLetter | undefined>;
  /**
   * Puts dead messages back in the queue as if just appended: attempts reset, and their age (for
   * the relay's maxAgeMs) counts from `now`; createdAt is kept. Returns how many.
   */
  replayDead(filter: DeadLetterFilter & { readonly id?: string }, now: number): Promise<number>;
  /**
   * Deletes dead messages matching every given field (an empty filter: every dead message; the
   * admin API refuses that unless asked explicitly). Only dead rows: queued, confirmed and failed
   * rows of the same id, tenant or topic are left alone.
   */
  deleteDead(filter: DeadLetterFilter & { readonly id?: string }): Promise<DeletedDeadLetters>;
  counts(): Promise<OutboxCounts>;
  /** Deletes status rows older than the retention windows. Returns how many. */
  prune(now: number): Promise<number>;
  /** Idempotent. Writes buffered status rows, then closes. */
  close(): Promise<void>;
}

export interface OutboxLimits {
  /** Most queued messages; appending more answers `full`. */
  readonly maxMessages: number;
  /** Most queued payload bytes; appending more answers `full`. */
  readonly maxBytes: number;
  /** Confirmed and failed rows are kept this long for GET /v1/messages/{id}. */
  readonly statusRetentionMs: number;
  /** Dead rows are kept this long for inspection and replay. */
  readonly deadRetentionMs: number;
}

export class OutboxError extends Error {
  override readonly name = 'OutboxError';
}

/** Approximate stored size of a message, counted against maxBytes. */
export function storedBytes(envelope: MessageEnvelope): number {
  let size = envelope.payload.byteLength + (envelope.key?.length ?? 0) + envelope.contentType.length;
  for (const [name, value] of Object.entries(envelope.headers)) size += name.length + value.length;
  return size;
}

export function errorOf(error: unknown): StoredError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : error.name, message: error.message };
  }
  return { code: 'UNKNOWN', message: String(error) };
}
