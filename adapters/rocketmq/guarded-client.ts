/**
 * rocketmq-client-nodejs 1.0.8 wrapped so that nothing inside it can take the gateway down.
 *
 * Read from its source (dist/client/*.js, dist/producer/*.js); each item is contained here:
 *
 * 1. Telemetry stream 'error' with no listener. TelemetrySession listens with `once('error')` and
 *    release() calls `removeAllListeners()`. A second error, or the ERR_STREAM_WRITE_AFTER_END that
 *    a settings sync writing to a released stream causes, is then an unhandled 'error' event: the
 *    process dies. -> guardStream() keeps a permanent error listener, re-added after every
 *    removeAllListeners(), and reports what it caught.
 * 2. Zombie streams after shutdown. On a stream error the session re-opens a stream after 1 s on an
 *    un-referenced timer nobody can cancel; if that fires after shutdown() it opens a new gRPC
 *    channel that is never closed (keeps reconnecting, keeps the process alive). -> once disposed,
 *    createTelemetryStream() hands out an inert in-memory stream instead.
 * 3. Exceptions thrown by the proxy's telemetry commands (settings sync asserts on the backoff policy,
 *    orphaned-transaction recovery reads fields before its try block) are thrown inside a gRPC 'data'
 *    callback or become unhandled rejections. -> every on*Command callback runs inside a guard.
 * 4. shutdown() stops at its first failure: with the proxy down, notifying it fails, so telemetry
 *    streams are never released, channels never closed, and the RpcClientManager's idle-check
 *    setInterval (not unref'd) keeps the process alive. -> dispose() bounds shutdown() and then
 *    releases sessions, cancels streams and closes the RPC clients itself.
 * 5. A topic whose route lookup fails stays in the client's topic set, and the periodic route refresh
 *    (every 30 s, sequential) stops at the first failing topic, so one unknown topic starves the
 *    refresh of every topic after it. -> getRouteData() removes a topic whose lookup failed.
 * 6. The default logger writes files under ~/logs/rocketmq. -> clientLogger() forwards to ours.
 *
 * No process-level handler is needed: every path above is closed at its source.
 */
import { Duplex } from 'node:stream';
import { format } from 'node:util';
import {
  Producer,
  SimpleConsumer,
  type Endpoints,
  type ILogger,
  type MessageOptions,
  type ProducerOptions,
  type SimpleConsumerOptions,
  type TopicRouteData,
} from 'rocketmq-client-nodejs';
import type { Logger } from '../core/index.js';
import type { RocketMqConfig } from './config.js';

/** Receives every failure the guards caught inside the client. Must not throw. */
export type ClientErrorSink = (source: string, error: unknown) => void;

/**
 * The client options every rocketmq-client-nodejs client of a target shares (producer and reader):
 * endpoints, namespace, request timeout, TLS and the session credentials.
 */
export function baseClientOptions(config: RocketMqConfig, endpoints: string = config.endpoints) {
  return {
    endpoints,
    namespace: config.namespace ?? '',
    requestTimeout: config.requestTimeoutMs,
    sslEnabled: config.tls,
    ...(config.credentials
      ? {
          sessionCredentials: {
            accessKey: config.credentials.accessKey,
            accessSecret: config.credentials.secretKey,
            ...(config.credentials.securityToken ? { securityToken: config.credentials.securityToken } : {}),
          },
        }
      : {}),
  };
}

type TelemetryStream = ReturnType<Producer['createTelemetryStream']>;

/**
 * Forwards the client's printf-style logs to the gateway logger. The client logs routine work at
 * info (settings, sessions), so that becomes debug; its warnings and errors become warn while
 * `loud()` says the client is the active one and the proxy is believed up, and debug otherwise (while
 * the adapter knows the proxy is down, its own state-change logs tell the story once, not per retry).
 * A loud warning also calls `onTrouble`: the client's background heartbeat and route refresh are
 * often the first to see the proxy go away, and they swallow the error after logging it.
 */
export function clientLogger(logger: Logger, loud: () => boolean, onTrouble: () => void = () => {}): ILogger {
  const fields = { source: 'rocketmq-client-nodejs' };
  // Errors as one line (their message), not the multi-line stack util.format would print.
  const text = (args: unknown[]) => format(...args.map((arg) => (arg instanceof Error ? arg.message : arg)));
  const trouble = (args: unknown[]) => {
    if (!loud()) {
      logger.debug(fields, text(args));
      return;
    }
    logger.warn(fields, text(args));
    onTrouble();
  };
  return {
    debug: (...args: unknown[]) => logger.debug(fields, text(args)),
    info: (...args: unknown[]) => logger.debug(fields, text(args)),
    warn: (...args: unknown[]) => trouble(args),
    error: (...args: unknown[]) => trouble(args),
  };
}

/** A stream that accepts writes and never emits anything: what a disposed client gets. */
function inertStream(): TelemetryStream {
  const stream = new Duplex({
    objectMode: true,
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  return Object.assign(stream, { cancel() {}, getPeer: () => 'disposed' }) as unknown as TelemetryStream;
}

/**
 * Attaches an 'error' listener that survives removeAllListeners(), so an error emitted after the
 * client dropped its own listeners is reported instead of crashing the process.
 */
export function guardStream(stream: TelemetryStream, report: (error: unknown) => void): void {
  const onError = (error: unknown) => report(error);
  stream.on('error', onError);
  const removeAll = stream.removeAllListeners.bind(stream);
  Object.defineProperty(stream, 'removeAllListeners', {
    configurable: true,
    writable: true,
    value(event?: string | symbol) {
      if (event === undefined) removeAll();
      else removeAll(event);
      if (event === undefined || event === 'error') stream.on('error', onError);
      return stream;
    },
  });
}

/** Shared guard state of one client (producer or consumer). */
class ClientGuard {
  disposed = false;
  readonly #streams = new Set<TelemetryStream>();

  constructor(readonly report: ClientErrorSink) {}

  stream(open: () => TelemetryStream): TelemetryStream {
    if (this.disposed) return inertStream();
    let stream: TelemetryStream;
    try {
      stream = open();
    } catch (error) {
      // Thrown inside the session's renew timer this would be an uncaught exception.
      this.report('telemetry stream open', error);
      return inertStream();
    }
    guardStream(stream, (error) => this.report('telemetry stream', error));
    for (const old of this.#streams) if (old.destroyed) this.#streams.delete(old);
    this.#streams.add(stream);
    return stream;
  }

  run(source: string, callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.report(source, error);
    }
  }

  cancelStreams(): void {
    for (const stream of this.#streams) {
      try {
        stream.cancel();
      } catch (error) {
        this.report('telemetry stream cancel', error);
      }
    }
    this.#streams.clear();
  }
}

/** Resolves when `promise` settles or after `ms`, whichever is first; never rejects. */
async function settleWithin(
  promise: Promise<unknown>,
  ms: number,
  onError: (error: unknown) => void,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      onError(new Error(`did not finish within ${ms} ms`));
      resolve();
    }, ms);
    timer.unref();
  });
  try {
    await Promise.race([promise.then(() => undefined, onError), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the adapter needs from a producer; the unit tests provide a fake. */
export interface RocketMqProducerClient {
  startup(): Promise<void>;
  send(message: MessageOptions): Promise<{ readonly messageId: string }>;
  /** One heartbeat call: resolves with the proxy's status if the proxy answered at all. */
  probe(timeoutMs: number): Promise<{ readonly code: number; readonly message: string }>;
  /** Looks up a topic's route (fails with TOPIC_NOT_FOUND for an unknown topic). */
  prefetchRoute(topic: string): Promise<void>;
  /** Shuts down within `timeoutMs` and releases everything, whatever the proxy does. Never rejects. */
  dispose(timeoutMs: number): Promise<void>;
}

export interface GuardedClientOptions {
  /** Send every call to the configured endpoints instead of the ones a topic route names. */
  readonly pinEndpoints?: boolean;
}

export class GuardedProducer extends Producer implements RocketMqProducerClient {
  readonly #guard: ClientGuard;
  readonly #pinEndpoints: boolean;

  constructor(options: ProducerOptions, report: ClientErrorSink, extra: GuardedClientOptions = {}) {
    super(options);
    this.#guard = new ClientGuard(report);
    this.#pinEndpoints = extra.pinEndpoints ?? false;
  }

  /**
   * The client caches the route object it passes here and builds its send load balancer from it,
   * so rewriting the brokers' endpoints in place pins every later send to ours.
   */
  override onTopicRouteDataUpdate(topic: string, data: TopicRouteData): void {
    if (this.#pinEndpoints) {
      for (const queue of data.messageQueues) queue.broker.endpoints = this.endpoints;
    }
    super.onTopicRouteDataUpdate(topic, data);
  }

  override createTelemetryStream(endpoints: Endpoints): TelemetryStream {
    return this.#guard.stream(() => super.createTelemetryStream(endpoints));
  }

  override onSettingsCommand(...args: Parameters<Producer['onSettingsCommand']>): void {
    this.#guard.run('settings command', () => super.onSettingsCommand(...args));
  }

  override onUnknownCommand(...args: Parameters<Producer['onUnknownCommand']>): void {
    this.#guard.run('unknown command', () => super.onUnknownCommand(...args));
  }

  override onVerifyMessageCommand(...args: Parameters<Producer['onVerifyMessageCommand']>): void {
    this.#guard.run('verify message command', () => super.onVerifyMessageCommand(...args));
  }

  override onPrintThreadStackTraceCommand(
    ...args: Parameters<Producer['onPrintThreadStackTraceCommand']>
  ): void {
    this.#guard.run('print thread stack command', () => super.onPrintThreadStackTraceCommand(...args));
  }

  override onReconnectEndpointsCommand(...args: Parameters<Producer['onReconnectEndpointsCommand']>): void {
    this.#guard.run('reconnect endpoints command', () => super.onReconnectEndpointsCommand(...args));
  }

  override async onRecoverOrphanedTransactionCommand(
    ...args: Parameters<Producer['onRecoverOrphanedTransactionCommand']>
  ): Promise<void> {
    try {
      await super.onRecoverOrphanedTransactionCommand(...args);
    } catch (error) {
      this.#guard.report('orphaned transaction command', error);
    }
  }

  protected override async getRouteData(topic: string): Promise<TopicRouteData> {
    try {
      return await super.getRouteData(topic);
    } catch (error) {
      if (!this.topicRouteCache.has(topic)) this.topics.delete(topic);
      throw error;
    }
  }

  async probe(timeoutMs: number): Promise<{ code: number; message: string }> {
    const response = await this.rpcClientManager.heartbeat(
      this.endpoints,
      this.wrapHeartbeatRequest(),
      timeoutMs,
    );
    const status = response.getStatus()?.toObject();
    return { code: status?.code ?? 0, message: status?.message ?? '' };
  }

  async prefetchRoute(topic: string): Promise<void> {
    await this.getRouteData(topic);
  }

  async dispose(timeoutMs: number): Promise<void> {
    if (this.#guard.disposed) return;
    this.#guard.disposed = true;
    await disposeClient(this, this.#guard, timeoutMs, () => this.getTotalRouteEndpoints());
  }
}

/** The same guards for a SimpleConsumer (used by tests and tools that read topics back). */
export class GuardedSimpleConsumer extends SimpleConsumer {
  readonly #guard: ClientGuard;

  constructor(options: SimpleConsumerOptions, report: ClientErrorSink) {
    super(options);
    this.#guard = new ClientGuard(report);
  }

  override createTelemetryStream(endpoints: Endpoints): TelemetryStream {
    return this.#guard.stream(() => super.createTelemetryStream(endpoints));
  }

  override onSettingsCommand(...args: Parameters<SimpleConsumer['onSettingsCommand']>): void {
    this.#guard.run('settings command', () => super.onSettingsCommand(...args));
  }

  override onUnknownCommand(...args: Parameters<SimpleConsumer['onUnknownCommand']>): void {
    this.#guard.run('unknown command', () => super.onUnknownCommand(...args));
  }

  override onVerifyMessageCommand(...args: Parameters<SimpleConsumer['onVerifyMessageCommand']>): void {
    this.#guard.run('verify message command', () => super.onVerifyMessageCommand(...args));
  }

  override onPrintThreadStackTraceCommand(
    ...args: Parameters<SimpleConsumer['onPrintThreadStackTraceCommand']>
  ): void {
    this.#guard.run('print thread stack command', () => super.onPrintThreadStackTraceCommand(...args));
  }

  override onReconnectEndpointsCommand(
    ...args: Parameters<SimpleConsumer['onReconnectEndpointsCommand']>
  ): void {
    this.#guard.run('reconnect endpoints command', () => super.onReconnectEndpointsCommand(...args));
  }

  override onRecoverOrphanedTransactionCommand(
    ...args: Parameters<SimpleConsumer['onRecoverOrphanedTransactionCommand']>
  ): void {
    this.#guard.run('orphaned transaction command', () => super.onRecoverOrphanedTransactionCommand(...args));
  }

  async dispose(timeoutMs: number): Promise<void> {
    if (this.#guard.disposed) return;
    this.#guard.disposed = true;
    await disposeClient(this, this.#guard, timeoutMs, () => this.getTotalRouteEndpoints());
  }
}

async function disposeClient(
  client: Producer | SimpleConsumer,
  guard: ClientGuard,
  timeoutMs: number,
  routeEndpoints: () => Endpoints[],
): Promise<void> {
  // shutdown() clears the client's timers first, then notifies the proxy (one call per endpoint,
  // each bounded by requestTimeout) and only then releases sessions and channels.
  await settleWithin(client.shutdown(), timeoutMs, (error) => guard.report('shutdown', error));
  // If it stopped early (proxy down) or is still waiting, finish its job: release the telemetry
  // sessions (route caches are still there then), cancel their streams, close every channel.
  for (const endpoints of routeEndpoints()) {
    guard.run('telemetry session release', () => client.getTelemetrySession(endpoints).release());
  }
  guard.cancelStreams();
  guard.run('rpc clients close', () => client.getRpcClientManager().close());
}

/** Builds the producer the adapter uses. */
export function createGuardedProducer(
  options: ProducerOptions,
  report: ClientErrorSink,
  extra: GuardedClientOptions = {},
): RocketMqProducerClient {
  return new GuardedProducer(options, report, extra);
}
