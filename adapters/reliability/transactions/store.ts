/**
 * The durable transaction table of the reliability layer: transactions (half messages) opened over
 * HTTP, the messages prepared in them, and the decision taken.
 *
 * States: open → committing → committed, or open → rolled-back. `committing` is written before the
 * prepared messages are handed to the outbox and `committed` after, so a gateway that dies in
 * between finds the transaction committing on restart and hands its messages over again (the
 * outbox then holds them twice at most: duplicates by id, never a loss).
 *
 * Implementations: sqlite-transactions.ts (one process) and postgres-transactions.ts (replicas
 * sharing one table; the sweeper's claims use a lease, like the outbox relay's).
 */
import type { MessageEnvelope } from '../../core/index.js';

export type TransactionState = 'open' | 'committing' | 'committed' | 'rolled-back';

/** Who or what decided: the client, the check-back endpoint, or the configured default at timeout. */
export type DecidedBy = 'client' | 'check' | 'timeout';

export interface TransactionRecord {
  readonly id: string;
  readonly tenant: string;
  readonly state: TransactionState;
  readonly messages: number;
  readonly createdAt: number;
  /** When the transaction times out and the check-back (or the default decision) takes over. */
  readonly expiresAt: number;
  readonly checkUrl?: string;
  /** Check-back calls made so far. */
  readonly checks: number;
  readonly decidedBy?: DecidedBy;
  readonly updatedAt: number;
}

export type PrepareOutcome =
  | { readonly kind: 'prepared'; readonly record: TransactionRecord }
  /** The transaction is no longer open (decided, or deciding): nothing was kept. */
  | { readonly kind: 'not-open'; readonly record: TransactionRecord }
  /** Over the transaction's message limit: nothing was kept. */
  | { readonly kind: 'full'; readonly record: TransactionRecord }
  | { readonly kind: 'unknown' };

export type TransitionOutcome =
  | { readonly kind: 'done'; readonly record: TransactionRecord }
  /** The transaction was not in one of the expected states; `record` shows the one it is in. */
  | { readonly kind: 'conflict'; readonly record: TransactionRecord }
  | { readonly kind: 'unknown' };

export interface NewTransaction {
  readonly id: string;
  readonly tenant: string;
  readonly expiresAt: number;
  readonly checkUrl?: string;
}

/** A prepared message, found by its id: which transaction holds it, and that transaction's state. */
export interface PreparedMessage {
  readonly transactionId: string;
  readonly state: TransactionState;
  readonly topic: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface TransactionStore {
  readonly kind: string;
  open(): Promise<void>;
  create(tx: NewTransaction, now: number): Promise<TransactionRecord>;
  get(tenant: string, id: string): Promise<TransactionRecord | undefined>;
  /** Stores the messages in the open transaction, all or none, durably (fsync'd) before resolving. */
  prepare(
    tenant: string,
    id: string,
    envelopes: readonly MessageEnvelope[],
    maxMessages: number,
    now: number,
  ): Promise<PrepareOutcome>;
  /** The prepared messages of a transaction, in the order they were prepared. */
  messages(id: string): Promise<MessageEnvelope[]>;
  /** Moves a transaction from one of `from` to `to` atomically (and ends any sweeper lease on it). */
  transition(
    tenant: string,
    id: string,
    from: readonly TransactionState[],
    to: TransactionState,
    decidedBy: DecidedBy | undefined,
    now: number,
  ): Promise<TransitionOutcome>;
  /**
   * Claims, for one sweeper and `leaseMs`, transactions that need it: open ones past their expiry
   * and next check, and committing ones whose hand-over was interrupted (no live lease).
   */
  claimDue(owner: string, leaseMs: number, limit: number, now: number): Promise<TransactionRecord[]>;
  /** Records a check-back that did not decide: the count, and when to ask again. Ends the lease. */
  deferCheck(id: string, checks: number, nextCheckAt: number, now: number): Promise<void>;
  /** A prepared message by id, within `tenant`. */
  findMessage(tenant: string, messageId: string): Promise<PreparedMessage | undefined>;
  /** Deletes decided transactions (and their messages) last changed before `before`. Returns how many. */
  prune(before: number): Promise<number>;
  close(): Promise<void>;
}

/** The stored form of an envelope: everything but the payload, as JSON (the payload is a column). */
export function envelopeMeta(envelope: MessageEnvelope): string {
  const { payload: _payload, ...meta } = envelope;
  return JSON.stringify(meta);
}

export function envelopeFrom(meta: string, payload: Uint8Array): MessageEnvelope {
  return { ...(JSON.parse(meta) as Omit<MessageEnvelope, 'payload'>), payload };
}

export class TransactionStoreError extends Error {
  override readonly name = 'TransactionStoreError';
}
