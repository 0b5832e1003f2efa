/**
 * The broker targets of a running gateway: one adapter per entry under `brokers:`, built through
 * the adapter registry (the gateway never names a broker kind itself).
 */
import {
  backoffDelay,
  toAdapterError,
  withDeadline,
  type AdapterDeps,
  type BrokerAdapter,
  type HealthReport,
  type Logger,
  withCloudEventsBinding,
} from '../adapters/core/index.js';
import { createAdapter } from '../adapters/registry.js';
import { BROKER_FACTS } from './broker-facts.js';
import type { GatewayConfig } from './config/schema.js';
import type { GatewayMetrics } from './observability/metrics.js';

/** Waits between connect attempts of a target: 1 s (after the first failure) doubling up to 30 s. */
const CONNECT_BACKOFF = { initialDelayMs: 500, maxDelayMs: 30_000, jitter: 'none' } as const;

export interface Targets {
  get(name: string): BrokerAdapter;
  names(): string[];
  /**
   * Whether the target has connected since start. A target that never did is "unhealthy": routes
   * degrade at once instead of waiting out its publish attempts. A connection lost later is the
   * adapter's to recover; its failing publishes open the target's circuit breaker.
   */
  connected(name: string): boolean;
  /**
   * Connects every target; a target that fails keeps retrying in the background with backoff.
   * Resolves once each target's first attempt has ended, connected or not. Idempotent.
   */
  connectAll(): Promise<void>;
  /**
   * Connects every target (connectAll) and waits until each one is connected, retries included, at
   * most `timeoutMs`. Resolves the targets still not connected then, with their last error ([]:
   * all connected); those keep retrying in the background until closed.
   */
  connectWithin(timeoutMs: number): Promise<NotConnected[]>;
  /** Health of every target, each bounded by `timeoutMs`. */
  health(timeoutMs: number): Promise<Record<string, HealthReport & { kind: string }>>;
  close(): Promise<void>;
}

/** A target connectWithin() gave up waiting for. */
export interface NotConnected {
  readonly target: string;
  /** Its last connect error, or that the attempt had not answered yet. */
  readonly error: string;
}

export function createTargets(
  brokers: GatewayConfig['brokers'],
  deps: AdapterDeps & {
    metrics: GatewayMetrics;
    logger: Logger;
    connectTimeoutMs?: number;
    /**
     * Built by a reload and not swapped in yet: the running config still serves these names, so a
     * failed connect neither marks the target down (pubgate_target_up) nor warns that publishes
     * fail; the reload waits for it (connectWithin) and is refused if it does not connect.
     */
    pending?: boolean;
  },
): Targets {
  const adapters = new Map<string, BrokerAdapter>();
  for (const [name, config] of Object.entries(brokers)) {
    // Each adapter binds `adapter` (its kind) and `target` to its own log lines.
    // CloudEvents leave with the kind's protocol binding (its declarations.cloudEvents).
    const adapter = createAdapter(name, config, deps);
    adapters.set(name, withCloudEventsBinding(adapter, BROKER_FACTS.cloudEventsBinding(config.kind)));
  }
  const connected = new Set<string>();
  const lastError = new Map<string, string>();
  /** Wakes connectWithin() callers whenever a target connects. */
  const onConnect = new Set<() => void>();
  const closing = new AbortController();
  const retryTimers = new Set<NodeJS.Timeout>();
  let started: Promise<void> | undefined;
  let closed: Promise<void> | undefined;

  async function connectWithRetry(name: string, adapter: BrokerAdapter, attempt: number): Promise<void> {
    const timeout = AbortSignal.timeout(deps.connectTimeoutMs ?? 10_000);
    try {
      await adapter.connect(AbortSignal.any([timeout, closing.signal]));
      if (closing.signal.aborted) return;
      connected.add(name);
      lastError.delete(name);
      for (const wake of [...onConnect]) wake();
      deps.logger.info({ target: name, kind: adapter.kind, attempt }, 'broker target connected');
      deps.metrics.targetUp.set({ target: name, kind: adapter.kind }, 1);
    } catch (error) {
      if (closing.signal.aborted) return;
      const delay = backoffDelay(attempt + 1, CONNECT_BACKOFF);
      const err = toAdapterError(error);
      lastError.set(name, err.message);
      if (deps.pending) {
        deps.logger.warn(
          { target: name, kind: adapter.kind, attempt, retryInMs: delay, err },
          'the new adapter of a reloaded broker target cannot connect yet; the running config keeps serving it',
        );
      } else {
        deps.metrics.targetUp.set({ target: name, kind: adapter.kind }, 0);
        deps.logger.warn(
          { target: name, kind: adapter.kind, attempt, retryInMs: delay, err },
          'broker target not reachable; publishes to it fail with 503 until it is',
        );
      }
      const timer = setTimeout(() => {
        retryTimers.delete(timer);
        void connectWithRetry(name, adapter, attempt + 1);
      }, delay);
      timer.unref();
      retryTimers.add(timer);
    }
  }

  function connectAll(): Promise<void> {
    started ??= Promise.all([...adapters].map(([name, adapter]) => connectWithRetry(name, adapter, 1))).then(
      () => undefined,
    );
    return started;
  }

  return {
    get(name) {
      const adapter = adapters.get(name);
      if (!adapter) throw new Error(`no broker target named ${name}`);
      return adapter;
    },
    names: () => [...adapters.keys()],
    connected: (name) => connected.has(name),
    connectAll,
    async connectWithin(timeoutMs) {
      void connectAll();
      const missing = () => [...adapters.keys()].filter((name) => !connected.has(name));
      if (missing().length > 0 && !closing.signal.aborted) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            onConnect.delete(check);
            closing.signal.removeEventListener('abort', done);
            resolve();
          };
          const check = () => {
            if (missing().length === 0) done();
          };
          const timer = setTimeout(done, timeoutMs);
          onConnect.add(check);
          closing.signal.addEventListener('abort', done);
        });
      }
      return missing().map((target) => ({
        target,
        error: lastError.get(target) ?? `no answer yet (the connect attempt is still running)`,
      }));
    },
    async health(timeoutMs) {
      const entries = await Promise.all(
        [...adapters].map(async ([name, adapter]) => {
          let report: HealthReport;
          try {
            report = await withDeadline(
              adapter.health(),
              timeoutMs,
              () => new Error(`no answer within ${timeoutMs} ms`),
            );
          } catch (error) {
            report = { ok: false, detail: error instanceof Error ? error.message : String(error) };
          }
          deps.metrics.targetUp.set({ target: name, kind: adapter.kind }, report.ok ? 1 : 0);
          return [name, { ...report, kind: adapter.kind }] as const;
        }),
      );
      return Object.fromEntries(entries);
    },
    close() {
      closed ??= (async () => {
        closing.abort(new Error('gateway closing'));
        for (const timer of retryTimers) clearTimeout(timer);
        retryTimers.clear();
        await Promise.all(
          [...adapters].map(async ([name, adapter]) => {
            try {
              await adapter.close();
            } catch (error) {
              deps.logger.error({ target: name, err: error }, 'broker target did not close cleanly');
            }
          }),
        );
      })();
      return closed;
    },
  };
}
