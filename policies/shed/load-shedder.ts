/**
 * Sheds load by tenant priority before the gateway is overwhelmed. Load is the larger of two
 * ratios: requests in flight against `maxInFlight`, and the event loop's recent delay against
 * `maxEventLoopDelayMs` (a saturated CPU shows up there first). Each priority has a share of that
 * capacity past which its new requests are refused: low goes first, normal next, high only when
 * the gateway is full. Refused requests cost almost nothing (no body read, no broker call), so the
 * high-priority tenants keep their latency.
 *
 * The load is sampled, not computed per request: the event-loop delay is read from a histogram
 * (perf_hooks.monitorEventLoopDelay) every `sampleIntervalMs` and the histogram reset. Only a delay
 * seen in two intervals in a row counts (the smaller of the two), so one stall sheds nothing and
 * is forgotten after an interval; a saturated CPU delays every interval.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export type Priority = 'low' | 'normal' | 'high';

export interface LoadShedOptions {
  /** Requests in flight at which the gateway counts as full (load 1.0). */
  readonly maxInFlight: number;
  /** Event-loop delay (p99 over the last interval) at which the gateway counts as full. */
  readonly maxEventLoopDelayMs: number;
  /** Share of capacity (0..1] past which each priority's new requests are shed. */
  readonly shedAt: Readonly<Record<Priority, number>>;
  /** How often the event-loop delay is sampled. */
  readonly sampleIntervalMs: number;
  /** Retry-After for a shed request. */
  readonly retryAfterSeconds: number;
}

export const DEFAULT_LOAD_SHED_OPTIONS: LoadShedOptions = Object.freeze({
  maxInFlight: 2000,
  maxEventLoopDelayMs: 200,
  shedAt: Object.freeze({ low: 0.6, normal: 0.85, high: 1 }),
  sampleIntervalMs: 500,
  retryAfterSeconds: 1,
});

/** Reads the event loop's delay; injectable so tests control it. */
export interface DelaySampler {
  /** Delay (ms) seen since the previous call. */
  sample(): number;
  close(): void;
}

export function createEventLoopDelaySampler(): DelaySampler {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return {
    sample() {
      // Nanoseconds; p99 so one long pause counts without a single outlier dominating.
      const ms = histogram.count === 0 ? 0 : histogram.percentile(99) / 1e6;
      histogram.reset();
      return ms;
    },
    close: () => histogram.disable(),
  };
}

export type ShedDecision =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly load: number; readonly retryAfterSeconds: number };

export interface LoadShedder {
  /** Admits a request of this priority or refuses it; an admitted one must call release() once. */
  admit(priority: Priority): ShedDecision;
  /** Current load (0 = idle, 1 = full; may exceed 1). */
  load(): number;
  inFlight(): number;
  /**
   * Applies new thresholds (a config reload) without forgetting the requests in flight: they were
   * admitted under the old ones and still count until released.
   */
  reconfigure(options: LoadShedOptions): void;
  close(): void;
}

export function createLoadShedder(
  initial: LoadShedOptions,
  deps: { sampler?: DelaySampler; onShed?: (priority: Priority) => void } = {},
): LoadShedder {
  const sampler = deps.sampler ?? createEventLoopDelaySampler();
  let options = initial;
  let inFlight = 0;
  let delayMs = 0;
  let previousMs = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const startSampling = () => {
    let due = performance.now() + options.sampleIntervalMs;
    timer = setInterval(() => {
      // The sampler's histogram may record a stall only after this callback ran; how late this
      // timer itself fired sees the same stall at once.
      const now = performance.now();
      const late = Math.max(0, now - due);
      due = now + options.sampleIntervalMs;
      // Overload is a delay that lasts: the smaller of this interval's and the previous one's, so
      // a single stall (a GC pause, a module compiled on first use) sheds nothing.
      const latest = Math.max(sampler.sample(), late);
      delayMs = Math.min(latest, previousMs);
      previousMs = latest;
    }, options.sampleIntervalMs);
    timer.unref();
  };
  startSampling();

  const load = () => Math.max(inFlight / options.maxInFlight, delayMs / options.maxEventLoopDelayMs);

  return {
    admit(priority) {
      const current = load();
      if (current >= options.shedAt[priority]) {
        deps.onShed?.(priority);
        return { ok: false, load: current, retryAfterSeconds: options.retryAfterSeconds };
      }
      inFlight += 1;
      let released = false;
      return {
        ok: true,
        release() {
          if (released) return;
          released = true;
          inFlight -= 1;
        },
      };
    },
    load,
    inFlight: () => inFlight,
    reconfigure(next) {
      const restart = next.sampleIntervalMs !== options.sampleIntervalMs;
      options = next;
      if (restart && !closed) {
        clearInterval(timer);
        startSampling();
      }
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      sampler.close();
    },
  };
}
