/**
 * One outbox row as both stores read it back, and what it becomes: the envelope the relay
 * publishes, a claimed row, a message status, a dead letter. SQLite hands JSON columns and big
 * integers back as text and numbers, PostgreSQL as objects and strings; these read either.
 */
import type { MessageEnvelope, PublishReceipt } from '../../core/index.js';
import type { ClaimedRow, DeadLetter, DeletedDeadLetters, MessageStatus, StoredError } from './outbox.js';

/** A JSON column: text (SQLite) or already parsed (PostgreSQL JSONB). */
type JsonColumn<T> = string | T | null;
/** An integer column: a number (SQLite) or a string (PostgreSQL BIGINT). */
type IntColumn = number | string;

export interface StoredRow {
  seq: IntColumn;
  id: string;
  tenant: string;
  topic: string;
  target: string;
  destination: string;
  msg_key: string | null;
  headers: JsonColumn<Record<string, string>>;
  content_type: string;
  payload: Buffer | null;
  deliver_at: IntColumn | null;
  created_at: IntColumn;
  state: string;
  attempts: number;
  receipt: JsonColumn<PublishReceipt>;
  last_error: JsonColumn<StoredError>;
  accepted_at: IntColumn;
  updated_at: IntColumn;
}

function json<T>(value: JsonColumn<T>): T | undefined {
  if (value === null) return undefined;
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

export function envelopeOfRow(row: StoredRow): MessageEnvelope {
  return {
    id: row.id,
    tenant: row.tenant,
    topic: row.topic,
    destination: row.destination,
    ...(row.msg_key === null ? {} : { key: row.msg_key }),
    payload: row.payload ?? Buffer.alloc(0),
    contentType: row.content_type,
    headers: json(row.headers) ?? {},
    ...(row.deliver_at === null ? {} : { deliverAt: Number(row.deliver_at) }),
    createdAt: Number(row.created_at),
  };
}

export function claimedOf(row: StoredRow): ClaimedRow {
  return {
    seq: String(row.seq),
    target: row.target,
    envelope: envelopeOfRow(row),
    attempts: row.attempts,
    acceptedAt: Number(row.accepted_at),
  };
}

/** The row's status; a queued row whose deliver_at is ahead of `now` (when given) reads `scheduled`. */
export function statusOf(row: StoredRow, now?: number): MessageStatus {
  const receipt = json(row.receipt);
  const lastError = json(row.last_error);
  const scheduled =
    now !== undefined && row.state === 'queued' && row.deliver_at !== null && Number(row.deliver_at) > now;
  return {
    id: row.id,
    tenant: row.tenant,
    topic: row.topic,
    target: row.target,
    state: scheduled ? 'scheduled' : (row.state as MessageStatus['state']),
    attempts: row.attempts,
    ...(receipt === undefined ? {} : { receipt }),
    ...(lastError === undefined ? {} : { lastError }),
    ...(row.deliver_at === null ? {} : { deliverAt: Number(row.deliver_at) }),
    // created_at: when the gateway took the message in; accepted_at moves on a replay.
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** Per target counts of deleted rows: what deleteDead returns. */
export function deletedOf(rows: ReadonlyArray<{ target: string; n: number | string }>): DeletedDeadLetters {
  const byTarget: Record<string, number> = {};
  let deleted = 0;
  for (const row of rows) {
    byTarget[row.target] = (byTarget[row.target] ?? 0) + Number(row.n);
    deleted += Number(row.n);
  }
  return { deleted, byTarget };
}

export function deadOf(row: StoredRow): DeadLetter {
  return {
    ...statusOf(row),
    seq: String(row.seq),
    destination: row.destination,
    ...(row.msg_key === null ? {} : { key: row.msg_key }),
    contentType: row.content_type,
    headers: json(row.headers) ?? {},
    payload: row.payload ?? Buffer.alloc(0),
    payloadBytes: row.payload?.byteLength ?? 0,
    queuedAt: Number(row.accepted_at),
  };
}
