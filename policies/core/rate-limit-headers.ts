/**
 * `RateLimit-Policy`, `RateLimit` and `Retry-After` as the IETF httpapi ratelimit-headers draft
 * writes them (structured-field lists): `RateLimit-Policy: "requests";q=10;w=1` names a quota of
 * q units per w seconds, `RateLimit: "requests";r=0;t=1` says r units remain and the window resets
 * in t seconds. On a refusal t equals Retry-After, so a client reading either waits as long.
 */
export interface RateLimitState {
  /** The policy's name (a structured-field string: quoted, without quotes or backslashes inside). */
  readonly policy: string;
  /** Units allowed per window. */
  readonly quota: number;
  /** Window length in seconds; omitted for limits that are not per window (concurrency). */
  readonly windowSeconds?: number;
  readonly remaining: number;
  /** Milliseconds until units become available again. */
  readonly resetMs: number;
}

/** Seconds to wait, rounded up, at least 1 (a 0 would invite an immediate retry that fails). */
export function retryAfterSeconds(resetMs: number): number {
  return Math.max(1, Math.ceil(resetMs / 1000));
}

export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const name = `"${state.policy.replace(/["\\]/g, '')}"`;
  const t = retryAfterSeconds(state.resetMs);
  const window = state.windowSeconds === undefined ? '' : `;w=${state.windowSeconds}`;
  return {
    'RateLimit-Policy': `${name};q=${state.quota}${window}`,
    RateLimit: `${name};r=${Math.max(0, Math.floor(state.remaining))};t=${t}`,
    'Retry-After': String(t),
  };
}
