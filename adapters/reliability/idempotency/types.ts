/**
 * What the idempotency stores add to the store contract of adapters/core (which
 * policies/idempotency uses): opening, health and closing.
 */
import type { IdempotencyStore } from '../../core/index.js';

export type { BeginOutcome, StoreWriteOutcome, StoredResponse } from '../../core/index.js';

export interface IdempotencyStoreImpl extends IdempotencyStore {
  open(): Promise<void>;
  /** Health for /readyz and tests. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
