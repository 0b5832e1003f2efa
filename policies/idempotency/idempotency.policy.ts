/**
 * Idempotency-Key semantics (IETF httpapi "The Idempotency-Key HTTP Header Field" draft):
 *
 * - The key is an opaque string of 1–255 visible ASCII characters, sent at most once; anything
 *   else is `invalid` (400). It is scoped to the tenant, the method and the path, so two tenants
 *   (or two topics) never share a key.
 * - The request's fingerprint is a SHA-256 of the topic, the body and the headers that shape the
 *   message (Message-Id, Message-Key, Content-Type, copied headers, Prefer).
 * - First use → `proceed`: the caller does the work, then `finish(response)`. A 2xx/4xx answer is
 *   stored for `retentionMs` and replayed to later requests with the same key and fingerprint.
 *   A 5xx answer is NOT stored: the key is released so the client may retry.
 * - Same key while the first request is in flight → `in-flight` (409).
 * - Same key with another fingerprint → `mismatch` (422).
 * - The store cannot answer (e.g. Redis down) → `unavailable` (503). Deduplication is never
 *   silently skipped.
 *
 * Framework-free: no HTTP types. The store contract lives in adapters/core; the stores are in
 * adapters/reliability/idempotency.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IdempotencyStore, StoreWriteOutcome, StoredResponse } from '../../adapters/core/index.js';

export type {
  BeginOutcome,
  IdempotencyStore,
  StoreWriteOutcome,
  StoredResponse,
} from '../../adapters/core/index.js';

export interface IdempotencyConfig {
  /** How long a completed answer is replayed. */
  readonly retentionMs: number;
  /** How long an in-flight lock lasts if its request never finishes (e.g. the process died). */
  readonly lockTtlMs: number;
}

export type KeyParse =
  | { readonly kind: 'absent' }
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'invalid'; readonly detail: string };

export interface IdempotentRequest {
  readonly tenant: string;
  readonly method: string;
  readonly path: string;
  readonly key: string;
  readonly fingerprint: string;
}

export type IdempotencyDecision =
  | {
      readonly kind: 'proceed';
      /** Stores (2xx/4xx) or releases (5xx) the key. Never rejects; returns the store outcome. */
      finish(response: StoredResponse): Promise<StoreWriteOutcome>;
    }
  | { readonly kind: 'replay'; readonly response: StoredResponse }
  | { readonly kind: 'in-flight' | 'mismatch'; readonly detail: string }
  | { readonly kind: 'unavailable'; readonly detail: string };

export interface Idempotency {
  readonly config: IdempotencyConfig;
  parseKey(values: readonly string[] | undefined): KeyParse;
  fingerprint(parts: {
    readonly topic: string;
    readonly body: Uint8Array;
    readonly headers: Readonly<Record<string, string>>;
  }): string;
  begin(request: IdempotentRequest): Promise<IdempotencyDecision>;
}

export const MAX_KEY_LENGTH = 255;
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

export function createIdempotency(config: IdempotencyConfig, deps: { store: IdempotencyStore }): Idempotency {
  const { store } = deps;
  return {
    config,
    parseKey(values) {
      if (values === undefined || values.length === 0) return { kind: 'absent' };
      if (values.length > 1)
        return { kind: 'invalid', detail: 'the Idempotency-Key header may be sent only once' };
      const raw = values[0]!.trim();
      // Structured-field strings arrive quoted ("abc"); accept both forms.
      const key = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
      if (key.length === 0) return { kind: 'invalid', detail: 'the Idempotency-Key header is empty' };
      if (key.length > MAX_KEY_LENGTH) {
        return { kind: 'invalid', detail: `the Idempotency-Key is longer than ${MAX_KEY_LENGTH} characters` };
      }
      if (!VISIBLE_ASCII.test(key)) {
        return { kind: 'invalid', detail: 'the Idempotency-Key must be visible ASCII characters' };
      }
      return { kind: 'key', key };
    },
    fingerprint({ topic, body, headers }) {
      const hash = createHash('sha256');
      hash.update(`topic:${topic}\n`);
      for (const name of Object.keys(headers).sort()) hash.update(`${name}:${headers[name]}\n`);
      hash.update('\n');
      hash.update(body);
      return hash.digest('hex');
    },
    async begin(request) {
      // One store key per (tenant, method, path, key); hashed so any key fits any store.
      const scoped = createHash('sha256')
        .update(`${request.tenant}\n${request.method}\n${request.path}\n${request.key}`)
        .digest('hex');
      const token = randomUUID();
      const outcome = await store.begin(scoped, request.fingerprint, token, config.lockTtlMs);
      switch (outcome.kind) {
        case 'completed':
          return { kind: 'replay', response: outcome.response };
        case 'in-flight':
          return {
            kind: 'in-flight',
            detail:
              'a request with this Idempotency-Key is still being processed; retry when it has finished',
          };
        case 'mismatch':
          return {
            kind: 'mismatch',
            detail: 'this Idempotency-Key was already used with a different request (topic, body or headers)',
          };
        case 'unavailable':
          return { kind: 'unavailable', detail: outcome.detail };
        case 'acquired':
          return {
            kind: 'proceed',
            finish: (response) =>
              response.status >= 500
                ? store.release(scoped, token)
                : store.complete(scoped, request.fingerprint, token, response, config.retentionMs),
          };
      }
    },
  };
}
