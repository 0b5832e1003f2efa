/**
 * The composition root: builds every part of a gateway from a loaded config, and owns its
 * lifecycle (listen, reload, drain, close). main.ts adds only the process concerns (argv, signals,
 * exit).
 *
 * Two lifetimes:
 * - the process: metrics, stores (outbox, idempotency), relay, load shedder, broker adapter pool,
 *   HTTP server, config watcher;
 * - a config generation (runtime/runtime.ts): targets view, router, policy pipeline, publisher,
 *   delivery, HTTP app. A reload builds a new runtime beside the running one, connects the
 *   adapters it adds, then swaps the pointer the server dispatches to. Requests already running
 *   finish on the old runtime; it is closed (releasing the adapters only it used) once they have.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { AdapterError, type Logger } from '../adapters/core/index.js';
import { createIdempotency } from '../policies/idempotency/index.js';
import { createLoadShedder, type LoadShedder, type LoadShedOptions } from '../policies/shed/index.js';
import { createRelay, type Relay } from '../adapters/reliability/relay.js';
import type { Outbox } from '../adapters/reliability/outbox/outbox.js';
import { createSequencer } from '../adapters/reliability/sequence.js';
import { createCrashPoints } from './publish/crash-points.js';
import { relayPublish } from './publish/publisher.js';
import { createIdempotencyStore, createOutbox, createTransactionStore } from './stores.js';
import { createTransactions } from '../adapters/reliability/transactions/coordinator.js';
import { releaseCommitted } from './publish/transaction-release.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import type { GatewayConfig, OverloadConfig } from './config/schema.js';
import { watchConfigFile, type ConfigWatcher } from './config/watch.js';
import { apiDocument } from './http/api-document.js';
import {
  applyServerConfig,
  installClientErrorAnswers,
  screenRequest,
  serverOptions,
} from './http/client-errors.js';
import { createLifecycleMetrics } from './observability/lifecycle-metrics.js';
import { createMetrics, type GatewayMetrics } from './observability/metrics.js';
import { packageVersion } from './package-version.js';
import { createPolicyPipeline, type PolicyPipeline } from './policies.js';
import { restartOnlyChanges } from './runtime/live-changes.js';
import { createRuntime, shared, type ReloadResult, type Runtime, type Shared } from './runtime/runtime.js';
import { createTargetPool } from './runtime/target-pool.js';
import type { Targets } from './targets.js';

export type { ReloadResult } from './runtime/runtime.js';

export interface GatewayDeps {
  readonly logger: Logger;
  readonly now?: () => number;
  /** Applies a reloaded `log.level` (the logger is the process's); absent: a new level needs a restart. */
  readonly setLogLevel?: (level: string) => void;
  /** The version the OpenAPI document gives (info.version). Default: package.json's. */
  readonly version?: string;
}

/** What asked for a reload, for the logs. */
export type ReloadTrigger = 'file' | 'signal' | 'admin' | 'api';

export interface Gateway {
  /** Connects the broker targets (in the background if they are slow) and starts listening. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops accepting, lets in-flight requests finish (up to shutdownTimeoutMs), closes targets. */
  stop(): Promise<void>;
  /**
   * Reads the config again (same file, environment and working directory), validates it and
   * swaps it in atomically; an invalid config, or one changing a restart-only setting, is refused
   * and the running one keeps serving. Reloads run one at a time, in the order asked.
   */
  reload(trigger?: ReloadTrigger): Promise<ReloadResult>;
  /** The running config generation: 1 at start, +1 per applied reload. */
  generation(): number;
  readonly metrics: GatewayMetrics;
  /** The broker targets of the running config generation. */
  readonly targets: Targets;
  readonly outbox: Outbox;
  readonly relay: Relay;
}

/** How often old status rows and dead letters past their retention are deleted. */
const PRUNE_INTERVAL_MS = 60_000;

function shedOptions(overload: OverloadConfig): LoadShedOptions {
  return {
    maxInFlight: overload.maxInFlight,
    maxEventLoopDelayMs: overload.maxEventLoopDelayMs,
    shedAt: overload.shedAt,
    sampleIntervalMs: overload.sampleIntervalMs,
    retryAfterSeconds: overload.retryAfterSeconds,
  };
}

/** The settings a policy pipeline is built from: when they are unchanged a reload keeps it (and its state). */
function pipelineKey(config: Readonly<GatewayConfig>): unknown {
  return {
    tenants: config.tenants,
    auth: config.auth,
    quotas: config.stores.quotas,
    shedding: config.overload.enabled,
  };
}

export function createGateway(loaded: LoadedConfig, deps: GatewayDeps): Gateway {
  const { config: initial } = loaded;
  const logger = deps.logger;
  const now = deps.now ?? Date.now;
  const metrics = createMetrics();
  const lifecycleMetrics = createLifecycleMetrics(metrics.registry);
  const pool = createTargetPool({ logger, metrics, now, baseDir: loaded.baseDir });

  // Process-wide: stores, idempotency, relay, shedder (restart-only settings, see live-changes.ts).
  const storeDeps = { logger, now, baseDir: loaded.baseDir };
  const outbox = createOutbox(initial, storeDeps);
  const idempotencyStore = createIdempotencyStore(initial, storeDeps);
  const idempotency = createIdempotency(
    {
      retentionMs: initial.idempotency.retentionSeconds * 1000,
      lockTtlMs: initial.idempotency.lockTimeoutSeconds * 1000,
    },
    { store: idempotencyStore },
  );
  metrics.setOutboxCounts(async () => ({ ...(await outbox.counts()) }));
  const crash = createCrashPoints(initial.faults.crashAt);
  let shedder: LoadShedder | undefined;
  lifecycleMetrics.setLoad(() => shedder?.load() ?? 0);
  const sequencer = createSequencer();
  const version = deps.version ?? packageVersion();
  /** The bound listener, for the OpenAPI document's servers; set once listening. */
  let listener: { host: string; port: number } | undefined;

  let current: Runtime;
  const retiring = new Set<Promise<void>>();
  /** Removed targets the relay still has messages for, warned about once each. */
  const orphanWarned = new Set<string>();

  const relayConfig = initial.reliability.relay;
  const relay = createRelay(
    {
      batchSize: relayConfig.batchSize,
      pollIntervalMs: relayConfig.pollIntervalMs,
      leaseMs: relayConfig.leaseMs,
      publishTimeoutMs: initial.server.publishTimeoutMs,
      retry: {
        maxAttempts: relayConfig.maxAttempts,
        baseDelayMs: relayConfig.baseDelayMs,
        maxDelayMs: relayConfig.maxDelayMs,
      },
      maxAgeMs: relayConfig.maxAgeSeconds * 1000,
      targetBackoff: {
        baseDelayMs: relayConfig.targetBackoffBaseMs,
        maxDelayMs: relayConfig.targetBackoffMaxMs,
      },
    },
    {
      outbox,
      logger,
      now,
      // Always the current runtime's targets. A message queued for a target a reload removed
      // stays queued (unavailable, retriable) until a reload brings the target back, or it is
      // dead by the relay's rules (maxAttempts with the target backoff, or maxAgeSeconds).
      publish: async (target, envelopes, signal) => {
        const runtime = current;
        const leave = runtime.enter();
        try {
          if (!runtime.targets.names().includes(target)) {
            if (!orphanWarned.has(target)) {
              orphanWarned.add(target);
              logger.warn(
                { target, generation: runtime.generation },
                'queued messages name a broker target the running config no longer has; they stay queued until it is back or they are dead',
              );
            }
            const error = new AdapterError(
              'ADP_ERR_UNAVAILABLE',
              `broker target ${target} is not in the running configuration`,
            );
            return envelopes.map(() => ({ ok: false as const, error }));
          }
          orphanWarned.delete(target);
          return await relayPublish(runtime.publisher, target, envelopes, signal);
        } finally {
          leave();
        }
      },
      // A target whose breaker is open is left alone until its probe time, not hammered.
      skipTargets: () => current.targets.names().filter((name) => current.breakers.state(name) === 'open'),
      observer: {
        published: (target, outcome) => metrics.relayPublish.inc({ target, outcome }),
        retried: (target) => metrics.publishRetries.inc({ target }),
        dead: (target) => metrics.deadLetters.inc({ target }),
      },
      afterBrokerAck: () => crash.hit('after-broker-ack'),
    },
  );

  let pruneTimer: NodeJS.Timeout | undefined;
  const shutdown = new AbortController();
  let shuttingDown = false;
  let watcher: ConfigWatcher | undefined;
  let reloading: Promise<ReloadResult> = Promise.resolve({ outcome: 'unchanged', generation: 1 });

  const transactionStore = createTransactionStore(initial, storeDeps);
  const txOptions = initial.transactions;
  const transactions = createTransactions(
    {
      ...txOptions,
      checkBackoff: { ...txOptions.checkBackoff, jitter: 'full' },
      retentionMs: initial.reliability.statusRetentionSeconds * 1000,
      ...(txOptions.signingSecret === undefined ? {} : { signingSecret: txOptions.signingSecret }),
    },
    {
      store: transactionStore,
      logger,
      now,
      // Always through the current runtime's routes, into the outbox (async): the relay delivers.
      release: (envelopes) => releaseCommitted(current, envelopes, initial.server.publishTimeoutMs),
      onDecided: (decision, by) => metrics.transactions.inc({ decision, decided_by: by }),
    },
  );

  const runtimeDeps = {
    logger,
    now,
    metrics,
    outbox,
    relay,
    transactions,
    idempotency,
    crash,
    sequencer,
    apiDocument: (config: Readonly<GatewayConfig>, generation: number) =>
      apiDocument(config, { generation, version, ...(listener ? { listener } : {}) }),
    shutdownSignal: shutdown.signal,
    isShuttingDown: () => shuttingDown,
    reloadConfig: () => reload('admin'),
  };

  function pipelineFor(config: Readonly<GatewayConfig>, running?: Runtime): Shared<PolicyPipeline> {
    if (running && isDeepStrictEqual(pipelineKey(running.config), pipelineKey(config))) {
      return running.pipeline.retain();
    }
    if (config.overload.enabled && !shedder) {
      shedder = createLoadShedder(shedOptions(config.overload));
    }
    const pipeline = createPolicyPipeline(config, {
      logger,
      baseDir: loaded.baseDir,
      now,
      ...(shedder ? { shedder } : {}),
      onShed: (tenant, priority) => lifecycleMetrics.shed.inc({ tenant, priority }),
    });
    return shared(pipeline, (p) => p.close()).retain();
  }

  function build(next: LoadedConfig, generation: number, running?: Runtime): Runtime {
    // Policies first: a bad key file refuses the config before any adapter is created.
    const pipeline = pipelineFor(next.config, running);
    let targets;
    try {
      targets = pool.plan(next.config.brokers);
    } catch (error) {
      void pipeline.release();
      throw error;
    }
    try {
      return createRuntime(
        next,
        generation,
        { targets, pipeline, ...(running ? { previous: running } : {}) },
        runtimeDeps,
      );
    } catch (error) {
      void targets.close();
      void pipeline.release();
      throw error;
    }
  }

  current = build(loaded, 1);
  current.targets.commit();
  lifecycleMetrics.setGeneration(1);

  const server: Server = createServer(serverOptions(initial.server), (req, res) => {
    if (screenRequest(req, res, current.config.server)) return;
    // The atomic pointer swap: each request runs on the runtime current when it arrived.
    current.handle(req, res);
  });
  applyServerConfig(server, initial.server);
  installClientErrorAnswers(server, logger);

  /** Closes an old runtime once nothing holds it (or its drain timeout passed). */
  function retire(old: Runtime, drainTimeoutMs: number): void {
    const task = (async () => {
      const idle = await old.idle(drainTimeoutMs);
      if (!idle) {
        logger.warn(
          { generation: old.generation, inFlight: old.inFlight(), drainTimeoutMs },
          'requests on the previous config still running after the reload drain timeout; closing its targets anyway',
        );
      }
      await old.delivery.drain(drainTimeoutMs);
      await old.close();
      logger.debug({ generation: old.generation }, 'previous config generation closed');
    })().catch((error: unknown) => logger.error({ err: error }, 'closing the previous config failed'));
    retiring.add(task);
    void task.finally(() => retiring.delete(task));
  }

  function watch(config: Readonly<GatewayConfig>, source: string | undefined): void {
    watcher?.close();
    watcher = undefined;
    if (source === undefined || !config.reload.watch || shuttingDown) return;
    watcher = watchConfigFile(
      source,
      () => {
        void reload('file');
      },
      {
        debounceMs: config.reload.debounceMs,
        pollMs: config.reload.pollMs,
        onError: (error) => logger.warn({ err: error, file: source }, 'config file watch failed'),
      },
    );
  }

  function refused(errors: string[], trigger: ReloadTrigger): ReloadResult {
    lifecycleMetrics.configReloads.inc({ outcome: 'refused' });
    logger.error(
      { trigger, generation: current.generation, errors },
      'config reload refused; the running config keeps serving',
    );
    return { outcome: 'refused', generation: current.generation, errors };
  }

  async function applyReload(trigger: ReloadTrigger): Promise<ReloadResult> {
    if (shuttingDown) return refused(['the gateway is shutting down'], trigger);
    const running = current;
    let next: LoadedConfig;
    try {
      next = loadConfig(running.loaded.loadOptions);
    } catch (error) {
      return refused([(error as Error).message], trigger);
    }
    if (isDeepStrictEqual(next.config, running.config)) {
      lifecycleMetrics.configReloads.inc({ outcome: 'unchanged' });
      logger.info({ trigger, generation: running.generation }, 'config reload: nothing changed');
      return { outcome: 'unchanged', generation: running.generation };
    }
    const restartOnly = restartOnlyChanges(running.config, next.config);
    if (restartOnly.length > 0) {
      return refused(
        restartOnly.map((field) => `${field} cannot change while running; restart the gateway to change it`),
        trigger,
      );
    }
    let runtime: Runtime;
    try {
      runtime = build(next, running.generation + 1, running);
    } catch (error) {
      return refused([(error as Error).message], trigger);
    }
    // Every adapter the reload adds or replaces is connected before the swap, so no request on the
    // new config meets an unconnected target. Until then the running config (and a replaced
    // target's old adapter) keeps serving; one that does not connect within
    // reload.connectTimeoutMs refuses the reload, and the running config stays.
    const { connectTimeoutMs } = next.config.reload;
    const [, notConnected] = await Promise.all([
      runtime.pipeline.value.ready(),
      runtime.targets.connectNew(connectTimeoutMs),
    ]);
    if (shuttingDown || notConnected.length > 0) {
      await runtime.close();
      if (shuttingDown) return refused(['the gateway is shutting down'], trigger);
      const { changes } = runtime.targets;
      return refused(
        notConnected.map(
          ({ target, error }) =>
            `broker target ${target} (${changes.replaced.includes(target) ? 'changed' : 'new'}) did not connect within ` +
            `reload.connectTimeoutMs (${connectTimeoutMs} ms): ${error}`,
        ),
        trigger,
      );
    }

    // The swap: from here on, new requests (and relay publishes) use the new runtime.
    if (shedder) shedder.reconfigure(shedOptions(next.config.overload));
    runtime.targets.commit();
    current = runtime;
    const { server: serverConfig } = next.config;
    applyServerConfig(server, serverConfig);
    if (next.config.log.level !== running.config.log.level) {
      if (deps.setLogLevel) deps.setLogLevel(next.config.log.level);
      else logger.warn({}, 'log.level changed but this logger cannot change level live');
    }
    for (const warning of next.warnings) logger.warn({}, warning);
    if (!isDeepStrictEqual(next.config.reload, running.config.reload)) watch(next.config, next.source);
    lifecycleMetrics.configReloads.inc({ outcome: 'applied' });
    lifecycleMetrics.setGeneration(runtime.generation);
    const changes = runtime.targets.changes;
    logger.info(
      { trigger, generation: runtime.generation, targets: changes, source: next.source },
      'config reloaded',
    );
    retire(running, next.config.reload.drainTimeoutMs);
    return { outcome: 'applied', generation: runtime.generation, targets: changes };
  }

  function reload(trigger: ReloadTrigger = 'api'): Promise<ReloadResult> {
    const result = reloading.then(
      () => applyReload(trigger),
      () => applyReload(trigger),
    );
    reloading = result;
    return result;
  }

  let stopping: Promise<void> | undefined;

  return {
    metrics,
    get targets() {
      return current.targets;
    },
    outbox,
    relay,
    reload,
    generation: () => current.generation,
    async start() {
      // The stores first: a 202 needs the outbox. A store that cannot open is logged and answers
      // 503 (outbox) or 503 (idempotency) until the gateway is restarted with it fixed.
      try {
        await outbox.open();
      } catch (error) {
        logger.error({ err: error }, 'outbox cannot be opened; async and spooled publishes answer 503');
      }
      if (initial.transactions.enabled) {
        try {
          await transactionStore.open();
        } catch (error) {
          logger.error({ err: error }, 'transaction store cannot be opened; /v1/transactions answers 503');
        }
      }
      try {
        await idempotencyStore.open();
      } catch (error) {
        logger.error(
          { err: error },
          'idempotency store cannot be opened; requests with Idempotency-Key answer 503',
        );
      }
      // Listen first so probes answer while brokers connect; readiness reports them.
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(initial.server.port, initial.server.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port, address } = server.address() as AddressInfo;
      listener = { host: initial.server.host, port };
      const host = address.includes(':') ? `[${address}]` : address;
      await Promise.all([current.pipeline.value.ready(), current.targets.connectAll()]);
      relay.start();
      if (initial.transactions.enabled) transactions.start();
      pruneTimer = setInterval(() => {
        outbox.prune(now()).catch((error: unknown) => logger.warn({ err: error }, 'outbox prune failed'));
      }, PRUNE_INTERVAL_MS);
      pruneTimer.unref();
      watch(current.config, current.loaded.source);
      logger.info(
        {
          port,
          host: address,
          targets: current.targets.names(),
          config: loaded.source ?? 'development default',
          reloadOnChange: watcher !== undefined,
        },
        'pubgate listening',
      );
      return { url: `http://${host}:${port}`, port };
    },
    stop() {
      stopping ??= (async () => {
        shuttingDown = true;
        watcher?.close();
        const { shutdownTimeoutMs } = current.config.server;
        logger.info({ drainTimeoutMs: shutdownTimeoutMs }, 'shutting down: draining in-flight requests');
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => {
          logger.warn({}, 'drain timeout reached: aborting in-flight publishes and closing connections');
          shutdown.abort(new Error('gateway shutdown timeout'));
          server.closeAllConnections();
        }, shutdownTimeoutMs);
        timer.unref();
        await closed;
        clearTimeout(timer);
        if (pruneTimer) clearInterval(pruneTimer);
        // A reload in progress finishes first (it may have built a runtime to close).
        await reloading.catch(() => undefined);
        // Background fire-and-forget publishes, then the relay's current batch, then the stores.
        await current.delivery.drain(shutdownTimeoutMs);
        await transactions.stop();
        await relay.stop();
        await Promise.all([...retiring]);
        await current.close();
        await pool.close();
        await outbox.close();
        await idempotencyStore.close();
        await transactionStore.close();
        shedder?.close();
        logger.info({}, 'pubgate stopped');
      })();
      return stopping;
    },
  };
}
