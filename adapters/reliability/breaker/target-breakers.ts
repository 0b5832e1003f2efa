/**
 * One circuit breaker per broker target (opossum). A target whose publishes keep failing is cut
 * off for a while, so callers get an immediate, honest answer (or a degraded one: spool, failover)
 * instead of each waiting out a broker timeout; after `resetTimeoutMs` one probe publish is let
 * through (half-open), and its outcome closes the breaker again or re-opens it.
 *
 * What counts as a failure is the caller's call (`isFailure`): a broker that is down, times out or
 * pushes back counts; a caller's mistake (message too large, unroutable destination) never does,
 * so one tenant's bad requests cannot cut everyone off a healthy broker.
 *
 * opossum runs on real timers and does not take an injected clock; its timers are unref'd.
 */
import { isDeepStrictEqual } from 'node:util';
import CircuitBreaker from 'opossum';

export interface BreakerOptions {
  /** false: no breaker for the target (every call goes through, nothing is counted). Default: true. */
  readonly enabled?: boolean;
  /** Percentage of failed calls in the rolling window that opens the breaker. */
  readonly errorThresholdPercentage: number;
  /** Fewer calls than this in the window never open it (a quiet target is not judged on 1 call). */
  readonly volumeThreshold: number;
  /** Length of the rolling window the error percentage is computed over. */
  readonly rollingWindowMs: number;
  /** Buckets the window is split into; the window slides one bucket at a time. */
  readonly rollingBuckets: number;
  /** How long the breaker stays open before it lets one probe through. */
  readonly resetTimeoutMs: number;
}

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = Object.freeze({
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  resetTimeoutMs: 5_000,
});

export type BreakerState = 'closed' | 'open' | 'half-open';

export type BreakerOutcome<T> =
  | { readonly ok: true; readonly value: T }
  /** Not attempted: the breaker is open (or half-open with its probe already in flight). */
  | { readonly ok: false; readonly state: 'open' | 'half-open'; readonly retryAfterMs: number };

export interface BreakerTransition {
  readonly target: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
}

export interface BreakerSnapshot {
  /** false when the target has no breaker (`enabled: false`): always closed. */
  readonly enabled: boolean;
  readonly state: BreakerState;
  /** When the breaker last opened (epoch ms), while it is open or half-open. */
  readonly openedAt?: number;
  /** When the next probe is allowed (epoch ms), while it is open. */
  readonly probeAt?: number;
  /** Calls, failures, rejections… in the current rolling window. */
  readonly window: { readonly calls: number; readonly failures: number; readonly rejected: number };
}

export interface TargetBreakers {
  /**
   * Runs `action` through `target`'s breaker. `isFailure(value)` says whether the value it resolved
   * with is a broker failure (it counts against the target but is still returned). A rejection of
   * `action` counts as a failure and is rethrown.
   */
  run<T>(
    target: string,
    action: () => Promise<T>,
    isFailure: (value: T) => boolean,
  ): Promise<BreakerOutcome<T>>;
  /** Cheap check before doing any work for `target`. */
  state(target: string): BreakerState;
  /** While open: milliseconds until the next probe is allowed (ceiling 0); otherwise 0. */
  retryAfterMs(target: string): number;
  snapshot(): Record<string, BreakerSnapshot>;
  /**
   * Each enabled breaker's state, to hand to the breakers of the next config generation
   * (`carried`): a reload must not reopen the gates to a target that is still failing.
   */
  carryOver(): Readonly<Record<string, CarriedBreaker>>;
  /** Stops every breaker's timers. Idempotent. */
  close(): void;
}

export interface TargetBreakersDeps {
  readonly now?: () => number;
  readonly onTransition?: (transition: BreakerTransition) => void;
  /**
   * State of the previous generation's breakers (carryOver()). A target whose options are
   * unchanged starts in its carried state: open (a full resetTimeoutMs until its probe, as opossum
   * restarts the timer) or half-open; its rolling window starts empty. Others start closed.
   */
  readonly carried?: Readonly<Record<string, CarriedBreaker>>;
}

/** One breaker's state across a config reload. */
export interface CarriedBreaker {
  readonly options: BreakerOptions;
  readonly state: BreakerState;
  /** opossum's own serialized state (CircuitBreaker#toJSON().state), its warm-start input. */
  readonly opossum: Readonly<Record<string, unknown>>;
}

/** Carries a resolved value that counts as a failure through opossum's rejection path. */
class CountedFailure<T> extends Error {
  override readonly name = 'CountedFailure';
  constructor(readonly value: T) {
    super('the broker target failed this call');
  }
}

interface Entry {
  readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  readonly options: BreakerOptions;
  openedAt?: number;
  state: BreakerState;
}

export function createTargetBreakers(
  options: Readonly<Record<string, BreakerOptions>>,
  deps: TargetBreakersDeps = {},
): TargetBreakers {
  const now = deps.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const disabled = new Set<string>();
  let closed = false;

  for (const [target, opts] of Object.entries(options)) {
    if (opts.enabled === false) {
      disabled.add(target);
      continue;
    }
    const previous = deps.carried?.[target];
    const warm =
      previous !== undefined && previous.state !== 'closed' && isDeepStrictEqual(previous.options, opts);
    const breaker = new CircuitBreaker((action: () => Promise<unknown>) => action(), {
      ...(warm ? { state: previous.opossum } : {}),
      name: target,
      // Deadlines are the adapters' and the request's business; the breaker only counts outcomes.
      timeout: false,
      errorThresholdPercentage: opts.errorThresholdPercentage,
      volumeThreshold: opts.volumeThreshold,
      rollingCountTimeout: opts.rollingWindowMs,
      rollingCountBuckets: opts.rollingBuckets,
      resetTimeout: opts.resetTimeoutMs,
      // Percentiles cost a sort per bucket rotation; we never read them.
      rollingPercentilesEnabled: false,
    });
    // A warm start settles opossum's state in its constructor, before these listeners exist.
    const initial: BreakerState = breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed';
    const entry: Entry = { breaker, options: opts, state: initial };
    if (initial !== 'closed') entry.openedAt = now();
    const move = (to: BreakerState) => {
      const from = entry.state;
      if (from === to) return;
      entry.state = to;
      if (to === 'open') entry.openedAt = now();
      if (to === 'closed') delete entry.openedAt;
      deps.onTransition?.({ target, from, to });
    };
    breaker.on('open', () => move('open'));
    breaker.on('halfOpen', () => move('half-open'));
    breaker.on('close', () => move('closed'));
    entries.set(target, entry);
  }

  function entryFor(target: string): Entry {
    const entry = entries.get(target);
    if (!entry) throw new Error(`no circuit breaker for target ${target}`);
    return entry;
  }

  function retryAfterMs(entry: Entry): number {
    if (entry.state !== 'open' || entry.openedAt === undefined) return entry.options.resetTimeoutMs;
    return Math.max(0, entry.openedAt + entry.options.resetTimeoutMs - now());
  }

  return {
    async run<T>(target: string, action: () => Promise<T>, isFailure: (value: T) => boolean) {
      if (disabled.has(target)) return { ok: true, value: await action() } as const;
      const entry = entryFor(target);
      try {
        const value = (await entry.breaker.fire(async () => {
          const result = await action();
          if (isFailure(result)) throw new CountedFailure(result);
          return result;
        })) as T;
        return { ok: true, value } as const;
      } catch (error) {
        if (error instanceof CountedFailure) return { ok: true, value: error.value as T } as const;
        if (CircuitBreaker.isOurError(error as Error)) {
          const state = entry.state === 'half-open' ? 'half-open' : 'open';
          return { ok: false, state, retryAfterMs: retryAfterMs(entry) } as const;
        }
        throw error;
      }
    },
    state: (target) => (disabled.has(target) ? 'closed' : entryFor(target).state),
    retryAfterMs(target) {
      if (disabled.has(target)) return 0;
      const entry = entryFor(target);
      return entry.state === 'open' ? retryAfterMs(entry) : 0;
    },
    snapshot() {
      const out: Record<string, BreakerSnapshot> = {};
      for (const target of disabled) {
        out[target] = { enabled: false, state: 'closed', window: { calls: 0, failures: 0, rejected: 0 } };
      }
      for (const [target, entry] of entries) {
        const stats = entry.breaker.stats;
        out[target] = {
          enabled: true,
          state: entry.state,
          ...(entry.openedAt === undefined ? {} : { openedAt: entry.openedAt }),
          ...(entry.state === 'open' && entry.openedAt !== undefined
            ? { probeAt: entry.openedAt + entry.options.resetTimeoutMs }
            : {}),
          window: { calls: stats.fires, failures: stats.failures, rejected: stats.rejects },
        };
      }
      return out;
    },
    carryOver() {
      const out: Record<string, CarriedBreaker> = {};
      for (const [target, entry] of entries) {
        out[target] = {
          options: entry.options,
          state: entry.state,
          opossum: { ...entry.breaker.toJSON().state },
        };
      }
      return out;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const entry of entries.values()) entry.breaker.shutdown();
    },
  };
}
