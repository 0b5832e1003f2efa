/**
 * The one exponential backoff of the code base: publish retries, relay retries, every adapter's
 * reconnect loop, the targets' first connect and the Redis store's reconnects all wait
 * `backoffDelay(attempt, options)` between tries, so "how long until the next try" means the same
 * thing everywhere and is tested once.
 *
 * The ceiling of try `attempt` (1 = the wait after the first failure) is
 * `min(maxDelayMs, initialDelayMs * 2^(attempt-1))`; the jitter then draws the wait from it:
 * - `full` (the default): uniform in [0, ceiling) — AWS "Exponential Backoff And Jitter"; spreads a
 *   crowd of retries (many requests, many replicas) best, at the price of sometimes retrying early;
 * - `{ spread: s }`: uniform in [ceiling·(1−s), ceiling·(1+s)] — keeps the doubling visible in
 *   reconnect logs while still de-synchronising replicas;
 * - `none`: exactly the ceiling.
 */

export type Jitter = 'full' | 'none' | { readonly spread: number };

export interface BackoffOptions {
  /** Ceiling of the first wait, in ms. */
  readonly initialDelayMs: number;
  /** Ceiling of any wait, in ms, however many tries failed. */
  readonly maxDelayMs: number;
  /** How the wait is drawn from the ceiling. Default: `full`. */
  readonly jitter?: Jitter;
}

/** The exponent stops growing long before 2^n overflows a double's integer range. */
const MAX_EXPONENT = 40;

/** Ceiling of the wait after `attempt` failed tries (attempt >= 1; lower counts as 1). */
export function backoffCeiling(attempt: number, options: BackoffOptions): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), MAX_EXPONENT);
  return Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** exponent);
}

/**
 * The wait, in whole ms, after `attempt` failed tries. `random` is uniform in [0, 1); injected so
 * tests are deterministic.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(attempt, options);
  const jitter = options.jitter ?? 'full';
  if (jitter === 'full') return Math.floor(random() * ceiling);
  if (jitter === 'none') return ceiling;
  return Math.round(ceiling * (1 - jitter.spread + 2 * jitter.spread * random()));
}
