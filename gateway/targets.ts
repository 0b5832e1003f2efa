/**
 * The broker targets of a running gateway: one adapter per entry under `brokers:`, built through
 * the adapter registry (the gateway never names a broker kind itself).
 */
import {
  toAdapterError,
  withDeadline,
  type AdapterDeps,
  type BrokerAdapter,
  type HealthReport,
  type Logger,
} from '../adapters/core/index.js';
import { createAdapter } from '../adapters/registry.js';
import type { GatewayConfig } from './config/schema.js';
import type { GatewayMetrics } from './observability/metrics.js';

export interface Targets {
  get(name: string): BrokerAdapter;
  names(): string[];
  /**
   * Whether the target has connected since start. A target that never did is "unhealthy": routes
   * degrade at once instead of waiting out its publish attempts. A connection lost later is the
   * adapter's to recover; its failing publishes open the target's circuit breaker.
   */
  connected(name: string): boolean;
  /** Connects every target; a target that fails keeps retrying in the background with backoff. */
  connectAll(): Promise<void>;
  /** Health of every target, each bounded by `timeoutMs`. */
  health(timeoutMs: number): Promise<Record<string, HealthReport & { kind: string }>>;
  close(): Promise<void>;
}

export function createTargets(
  brokers: GatewayConfig['brokers'],
  deps: AdapterDeps & { metrics: GatewayMetrics; logger: Logger; connectTimeoutMs?: number },
): Targets {
  const adapters = new Map<string, BrokerAdapter>();
  for (const [name, config] of Object.entries(brokers)) {
    // Each adapter binds `adapter` (its kind) and `target` to its own log lines.
    adapters.set(name, createAdapter(name, config, deps));
  }
  const connected = new Set<string>();
  const closing = new AbortController();
  const retryTimers = new Set<NodeJS.Timeout>();
  let closed: Promise<void> | undefined;

  async function connectWithRetry(name: string, adapter: BrokerAdapter, attempt: number): Promise<void> {
    const timeout = AbortSignal.timeout(deps.connectTimeoutMs ?? 10_000);
    try {
      await adapter.connect(AbortSignal.any([timeout, closing.signal]));
      connected.add(name);
      deps.logger.info({ target: name, kind: adapter.kind, attempt }, 'broker target connected');
      deps.metrics.targetUp.set({ target: name, kind: adapter.kind }, 1);
    } catch (error) {
      if (closing.signal.aborted) return;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      deps.metrics.targetUp.set({ target: name, kind: adapter.kind }, 0);
      deps.logger.warn(
        { target: name, kind: adapter.kind, attempt, retryInMs: delay, err: toAdapterError(error) },
        'broker target not reachable; publishes to it fail with 503 until it is',
      );
      const timer = setTimeout(() => {
        retryTimers.delete(timer);
        void connectWithRetry(name, adapter, attempt + 1);
      }, delay);
      timer.unref();
      retryTimers.add(timer);
    }
  }

  return {
    get(name) {
      const adapter = adapters.get(name);
      if (!adapter) throw new Error(`no broker target named ${name}`);
      return adapter;
    },
    names: () => [...adapters.keys()],
    connected: (name) => connected.has(name),
    async connectAll() {
      await Promise.all([...adapters].map(([name, adapter]) => connectWithRetry(name, adapter, 1)));
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
