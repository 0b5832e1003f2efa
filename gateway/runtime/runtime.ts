/**
 * A runtime: everything built from one config generation that may change on reload — broker
 * targets (a view of the shared pool), router, policy pipeline, publisher, delivery and the HTTP
 * app. The gateway swaps the current runtime atomically; a request keeps the runtime that was
 * current when it arrived until its answer is out, and an old runtime is closed only once nothing
 * holds it any more (or its drain timeout passed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { Logger } from '../../adapters/core/index.js';
import type { Outbox } from '../../adapters/reliability/outbox/outbox.js';
import type { Relay } from '../../adapters/reliability/relay.js';
import { createRetryPolicy } from '../../adapters/reliability/retry.js';
import type { Sequencer } from '../../adapters/reliability/sequence.js';
import type { Idempotency } from '../../policies/idempotency/index.js';
import type { LoadedConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { createApp } from '../http/app.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { PolicyPipeline } from '../policies.js';
import type { CrashPoints } from '../publish/crash-points.js';
import { createDelivery, type Delivery } from '../publish/delivery.js';
import { createGatewayBreakers } from '../publish/breakers.js';
import { createPublisher, type Publisher } from '../publish/publisher.js';
import type { TargetBreakers } from '../../adapters/reliability/breaker/index.js';
import { createRouter, type Router as TopicRouter } from '../routing.js';
import type { Transactions } from '../../adapters/reliability/transactions/coordinator.js';
import type { PooledTargets, TargetChanges } from './target-pool.js';

/** What a reload did. Refused and unchanged reloads leave the running config as it was. */
export type ReloadResult =
  | { readonly outcome: 'applied'; readonly generation: number; readonly targets: TargetChanges }
  | { readonly outcome: 'unchanged'; readonly generation: number }
  | { readonly outcome: 'refused'; readonly generation: number; readonly errors: readonly string[] };

/** A value several runtimes may share, closed when the last one lets go. */
export interface Shared<T> {
  readonly value: T;
  retain(): Shared<T>;
  release(): Promise<void>;
}

export function shared<T>(value: T, close: (value: T) => Promise<void>): Shared<T> {
  let users = 0;
  let closing: Promise<void> | undefined;
  const handle: Shared<T> = {
    value,
    retain() {
      users += 1;
      return handle;
    },
    release() {
      users -= 1;
      if (users > 0) return Promise.resolve();
      closing ??= close(value);
      return closing;
    },
  };
  return handle;
}

/** The parts that live as long as the process (not rebuilt on reload). */
export interface RuntimeShared {
  readonly logger: Logger;
  readonly now: () => number;
  readonly metrics: GatewayMetrics;
  readonly outbox: Outbox;
  readonly relay: Pick<Relay, 'wake'>;
  readonly idempotency: Idempotency;
  readonly crash: CrashPoints;
  readonly sequencer: Pick<Sequencer, 'stamp'>;
  /** Transactional messages (process-long: the sweeper runs whatever the config generation). */
  readonly transactions: Transactions;
  /** The OpenAPI document describing `config` as generation `generation`. */
  apiDocument(config: Readonly<GatewayConfig>, generation: number): OpenAPIV3_1.Document;
  readonly shutdownSignal: AbortSignal;
  isShuttingDown(): boolean;
  reloadConfig(): Promise<ReloadResult>;
}

export interface Runtime {
  readonly generation: number;
  readonly loaded: LoadedConfig;
  readonly config: Readonly<GatewayConfig>;
  readonly targets: PooledTargets;
  readonly pipeline: Shared<PolicyPipeline>;
  readonly publisher: Publisher;
  readonly delivery: Delivery;
  /** Topic → route of this generation's config. */
  readonly router: TopicRouter;
  /**
   * One circuit breaker per target of this generation. A reload carries over the state of the
   * breakers of the targets it keeps unchanged (an open breaker stays open until its probe); a
   * new or changed target starts closed.
   */
  readonly breakers: TargetBreakers;
  /** Handles one HTTP request on this runtime, holding it until the response has closed. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Holds the runtime (e.g. for a relay publish); call the returned function once when done. */
  enter(): () => void;
  /** Requests and publishes holding this runtime now. */
  inFlight(): number;
  /** Resolves true once nothing holds the runtime, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean>;
  /** Releases the runtime's targets and pipeline (closing what no other runtime uses). Idempotent. */
  close(): Promise<void>;
}

export function createRuntime(
  loaded: LoadedConfig,
  generation: number,
  parts: {
    targets: PooledTargets;
    pipeline: Shared<PolicyPipeline>;
    /** The runtime this one replaces (a reload), if any. */
    previous?: Runtime;
  },
  deps: RuntimeShared,
): Runtime {
  const { config } = loaded;
  const { targets, pipeline } = parts;
  const { logger, now, metrics } = deps;
  const router = createRouter(config.routes);
  // Breakers of targets the reload kept (same adapter, same connection) keep their state.
  const carried = parts.previous?.breakers.carryOver() ?? {};
  const breakers = createGatewayBreakers(config.breakers, targets.names(), {
    metrics,
    logger,
    carried: Object.fromEntries(
      Object.entries(carried).filter(([target]) => targets.changes.kept.includes(target)),
    ),
  });
  const publisher = createPublisher({ targets, metrics, breakers });
  const delivery = createDelivery({
    publisher,
    outbox: deps.outbox,
    relay: deps.relay,
    retry: createRetryPolicy(config.reliability.retry, { now }),
    metrics,
    logger,
    crash: deps.crash,
    now,
    publishTimeoutMs: config.server.publishTimeoutMs,
    retryAfterSeconds: config.server.retryAfterSeconds,
  });
  const app = createApp({
    config,
    policy: pipeline.value.policy,
    authenticate: pipeline.value.authenticate,
    router,
    publisher,
    targets,
    metrics,
    logger,
    now,
    shutdownSignal: deps.shutdownSignal,
    sequencer: deps.sequencer,
    openapi: () => deps.apiDocument(config, generation),
    isShuttingDown: deps.isShuttingDown,
    retryAfterSeconds: config.server.retryAfterSeconds,
    trustProxy: config.server.trustProxy,
    delivery,
    idempotency: deps.idempotency,
    outbox: deps.outbox,
    transactions: deps.transactions,
    adminKeys: config.admin.keys,
    breakers,
    wakeRelay: () => deps.relay.wake(),
    reloadConfig: deps.reloadConfig,
  });

  let holders = 0;
  const waiters = new Set<() => void>();
  let closed: Promise<void> | undefined;

  const enter = () => {
    holders += 1;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      holders -= 1;
      if (holders === 0) for (const wake of [...waiters]) wake();
    };
  };

  return {
    generation,
    loaded,
    config,
    targets,
    pipeline,
    publisher,
    delivery,
    router,
    breakers,
    handle(req, res) {
      // 'close' fires once the response is sent or the connection is gone, whichever first.
      res.once('close', enter());
      app(req, res);
    },
    enter,
    inFlight: () => holders,
    idle(timeoutMs) {
      if (holders === 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (value: boolean) => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(value);
        };
        const wake = () => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        timer.unref();
        waiters.add(wake);
      });
    },
    close() {
      closed ??= (async () => {
        breakers.close();
        await targets.close();
        await pipeline.release();
      })();
      return closed;
    },
  };
}
