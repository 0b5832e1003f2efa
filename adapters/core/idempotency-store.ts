/**
 * The contract of an Idempotency-Key store (policies/idempotency decides; a store in
 * adapters/reliability/idempotency remembers). Every method resolves: expected failures, such as
 * the store being unreachable, are values, so the caller can answer 503 instead of skipping dedup.
 */

/** The answer kept for replay. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type BeginOutcome =
  | { readonly kind: 'acquired' }
  | { readonly kind: 'in-flight' }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'completed'; readonly response: StoredResponse }
  | { readonly kind: 'unavailable'; readonly detail: string };

export type StoreWriteOutcome =
  { readonly kind: 'ok' } | { readonly kind: 'unavailable'; readonly detail: string };

export interface IdempotencyStore {
  readonly kind: string;
  /** Atomically: replay a completed entry, refuse a held lock, or take the lock for `lockTtlMs`. */
  begin(key: string, fingerprint: string, token: string, lockTtlMs: number): Promise<BeginOutcome>;
  /** Stores the answer for `retentionMs` and drops the lock (if `token` still holds it). */
  complete(
    key: string,
    fingerprint: string,
    token: string,
    response: StoredResponse,
    retentionMs: number,
  ): Promise<StoreWriteOutcome>;
  /** Drops the lock if `token` still holds it. */
  release(key: string, token: string): Promise<StoreWriteOutcome>;
}
