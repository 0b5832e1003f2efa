/**
 * Retry decisions for publishes: exponential backoff with full jitter (AWS "Exponential Backoff
 * And Jitter": sleep = random(0, min(maxDelay, base * 2^(attempt-1)))), bounded by a number of
 * attempts and by a deadline.
 *
 * Decisions read only AdapterError.retriable (and report `ambiguous`): never error messages.
 * An ambiguous failure (the broker may have the message) is retried too. That is safe because the
 * same message id travels with every attempt, so a duplicate is detectable by consumers.
 */
import { backoffDelay, type AdapterError } from '../core/index.js';

export interface RetryOptions {
  /** Most tries in total, the first one included. 1 = never retry. */
  readonly maxAttempts: number;
  /** Upper bound of the first backoff (full jitter draws from [0, base]). */
  readonly baseDelayMs: number;
  /** Upper bound of any backoff. */
  readonly maxDelayMs: number;
}

export interface RetryDeps {
  /** Uniform in [0, 1). Injected so tests are deterministic. Default: Math.random. */
  readonly random?: () => number;
  /** Default: Date.now. */
  readonly now?: () => number;
}

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: 'not-retriable' | 'attempts' | 'deadline' };

export interface RetryPolicy {
  readonly options: RetryOptions;
  /** Full-jitter backoff before try number `attempt + 1`, given `attempt` tries so far (>= 1). */
  backoff(attempt: number): number;
  /**
   * Whether to try again after `attempt` tries failed with `error`, and how long to wait first.
   * No retry when the wait would end past `deadline` (epoch ms): the caller answers instead.
   */
  decide(error: Pick<AdapterError, 'retriable'>, attempt: number, deadline?: number): RetryDecision;
}

export function createRetryPolicy(options: RetryOptions, deps: RetryDeps = {}): RetryPolicy {
  if (!(options.maxAttempts >= 1)) throw new RangeError('maxAttempts must be at least 1');
  if (!(options.baseDelayMs >= 0) || !(options.maxDelayMs >= options.baseDelayMs)) {
    throw new RangeError('need 0 <= baseDelayMs <= maxDelayMs');
  }
  const random = deps.random ?? Math.random;
  const now = deps.now ?? Date.now;

  const curve = {
    initialDelayMs: options.baseDelayMs,
    maxDelayMs: options.maxDelayMs,
    jitter: 'full',
  } as const;
  const backoff = (attempt: number): number => backoffDelay(attempt, curve, random);

  return {
    options,
    backoff,
    decide(error, attempt, deadline) {
      if (!error.retriable) return { retry: false, reason: 'not-retriable' };
      if (attempt >= options.maxAttempts) return { retry: false, reason: 'attempts' };
      const delayMs = backoff(attempt);
      if (deadline !== undefined && now() + delayMs >= deadline) return { retry: false, reason: 'deadline' };
      return { retry: true, delayMs };
    },
  };
}

/** Resolves after `ms`, or early (with false) when the signal fires. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
