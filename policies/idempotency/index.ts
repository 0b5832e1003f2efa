export {
  createIdempotency,
  MAX_KEY_LENGTH,
  type BeginOutcome,
  type Idempotency,
  type IdempotencyConfig,
  type IdempotencyDecision,
  type IdempotencyStore,
  type IdempotentRequest,
  type KeyParse,
  type StoredResponse,
  type StoreWriteOutcome,
} from './idempotency.policy.js';
