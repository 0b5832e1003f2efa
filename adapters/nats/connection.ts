/**
 * The NATS adapter's connection supervisor: one connection at a time, with JetStream checked on
 * it, replaced with exponential backoff (adapters/core/backoff.ts) whenever it closes.
 *
 * nats.js can reconnect by itself, but while it does it buffers publishes and lets requests wait
 * until their timeout, and its reconnect delays are its own. Here the client's own reconnect is
 * off: when the connection drops, nats.js closes it (its in-flight requests reject at once with
 * "connection closed", which the adapter reports as ADP_ERR_CONNECTION_LOST), and this loop dials
 * a new one after `backoffDelay(attempt, config.reconnect)`. So there is exactly one backoff in
 * the code base, publish() fails fast while there is no connection, and every state change is
 * logged in one place.
 */
import {
  connect as natsConnect,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { AdapterError, backoffDelay, withDeadline, type Logger } from '../core/index.js';
import { classifyNatsError, isNoResponders } from './classify-error.js';
import { serverList, type NatsConfig } from './config.js';

/** An open connection with JetStream checked on it. */
export interface NatsSession {
  readonly id: number;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** The server's max_payload (payload + headers), as it announced it. */
  readonly maxPayload: number;
}

/** Seams for unit tests only; production passes nothing. */
export interface NatsConnectionInternals {
  readonly connect?: (options: NodeConnectionOptions) => Promise<NatsConnection>;
  /** Random source in [0, 1) for the backoff jitter. Default: Math.random. */
  readonly random?: () => number;
}

export interface SupervisorEvents {
  /** A session is open: publishing may start. */
  up(session: NatsSession, downMs: number | undefined): void;
  /** The session closed (error: why, when nats.js said). */
  down(session: NatsSession, error: AdapterError): void;
  /** A connection attempt failed; `error` is classified. */
  failed(error: AdapterError, attempt: number): void;
}

export interface ConnectionSupervisor {
  /** The open session, if any. */
  current(): NatsSession | undefined;
  /** Why there is no session right now, if known. */
  lastError(): AdapterError | undefined;
  /** Connection attempts after the first one. */
  reconnectAttempts(): number;
  /** Stops the loop and closes the open connection (bounded). */
  stop(): Promise<void>;
}

/** The nats.js options of a target (credentials included; never logged). */
export function connectionOptions(target: string, config: NatsConfig): NodeConnectionOptions {
  return {
    servers: serverList(config),
    name: config.connectionName ?? `pubgate:${target}`,
    timeout: config.connectTimeoutMs,
    // The supervisor reconnects (see above); nats.js closes the connection when it drops.
    reconnect: false,
    pingInterval: config.pingIntervalMs,
    maxPingOut: 2,
    ...(config.user !== undefined ? { user: config.user, pass: config.pass } : {}),
    ...(config.token !== undefined ? { token: config.token } : {}),
  };
}

/** The server URLs with any user info removed, for logs and health details. */
export function redactServers(config: NatsConfig): string {
  return serverList(config)
    .map((raw) => {
      try {
        const url = new URL(raw);
        url.username = '';
        url.password = '';
        return url.toString().replace(/\/$/, '');
      } catch {
        return '<invalid url>';
      }
    })
    .join(',');
}

/** Opens one connection and checks JetStream answers on it. Closes the connection on failure. */
async function openSession(
  id: number,
  options: NodeConnectionOptions,
  config: NatsConfig,
  connect: (options: NodeConnectionOptions) => Promise<NatsConnection>,
): Promise<NatsSession> {
  const connecting = connect(options);
  const nc = await withDeadline(connecting, config.connectTimeoutMs + 1000, () => {
    // A connection that opens after all is closed at once (nats.js bounds the handshake itself too).
    connecting.then((late) => late.close()).catch(() => {});
    return new AdapterError(
      'ADP_ERR_UNAVAILABLE',
      `connecting took longer than ${config.connectTimeoutMs} ms`,
    );
  });
  try {
    // Asks the JetStream API for the account info: fails when JetStream is off or not ready yet.
    const jsm = await jetstreamManager(nc, { timeout: config.connectTimeoutMs });
    const js = jetstream(nc, { timeout: config.publishTimeoutMs });
    return { id, nc, js, jsm, maxPayload: nc.info?.max_payload ?? config.maxMessageBytes };
  } catch (error) {
    await nc.close().catch(() => {});
    // Right after a server start JetStream may not answer yet: that is not a missing stream.
    if (isNoResponders(error)) {
      throw new AdapterError('ADP_ERR_UNAVAILABLE', 'JetStream did not answer (starting, or not enabled)', {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Starts the loop: connect, hold the session until it closes, back off, connect again — until
 * stop(). The first `failed` with a non-retriable error is how connect() learns to give up.
 */
export function superviseConnection(
  target: string,
  config: NatsConfig,
  log: Logger,
  events: SupervisorEvents,
  internals: NatsConnectionInternals = {},
): ConnectionSupervisor {
  const connect = internals.connect ?? natsConnect;
  const random = internals.random ?? Math.random;
  const options = connectionOptions(target, config);
  const servers = redactServers(config);
  const stopSignal = new AbortController();
  let session: NatsSession | undefined;
  let lastError: AdapterError | undefined;
  let dialled = 0;
  let downSince: number | undefined;

  /** Resolves after `ms`, or early when stop() starts. */
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopSignal.signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        stopSignal.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      stopSignal.signal.addEventListener('abort', done, { once: true });
    });

  /** Holds one session until its connection closes; returns why it closed. */
  async function hold(current: NatsSession): Promise<AdapterError> {
    session = current;
    lastError = undefined;
    events.up(current, downSince === undefined ? undefined : Date.now() - downSince);
    downSince = undefined;
    const closedWith = await current.nc.closed();
    if (session === current) session = undefined;
    downSince = Date.now();
    const error = classifyNatsError(closedWith ?? new Error('connection closed'));
    return error.code === 'ADP_ERR_INTERNAL'
      ? new AdapterError('ADP_ERR_UNAVAILABLE', `connection closed: ${error.message}`, { cause: error })
      : error;
  }

  async function loop(): Promise<void> {
    let attempt = 0;
    while (!stopSignal.signal.aborted) {
      dialled++;
      try {
        log.info({ servers, attempt }, 'nats connecting');
        const current = await openSession(dialled, options, config, connect);
        if (stopSignal.signal.aborted) {
          await current.nc.close().catch(() => {});
          break;
        }
        attempt = 0;
        lastError = await hold(current);
        if (!stopSignal.signal.aborted) events.down(current, lastError);
      } catch (error) {
        lastError = classifyNatsError(error);
        downSince ??= Date.now();
        events.failed(lastError, attempt + 1);
      }
      if (stopSignal.signal.aborted) break;
      attempt++;
      const delay = backoffDelay(attempt, config.reconnect, random);
      log.warn({ attempt, backoffMs: delay, lastError: lastError?.code }, 'nats reconnecting');
      await sleep(delay);
    }
  }

  const running = loop().catch((error: unknown) => {
    log.error({ error: error instanceof Error ? error.message : String(error) }, 'nats supervisor stopped');
  });

  return {
    current: () => session,
    lastError: () => lastError,
    reconnectAttempts: () => Math.max(0, dialled - 1),
    async stop() {
      stopSignal.abort();
      const open = session;
      if (open) {
        // close() flushes what is buffered; bounded, since a frozen server never answers.
        await withDeadline(
          open.nc.close(),
          config.connectTimeoutMs,
          () => new Error('close timed out'),
        ).catch(() => {});
      }
      // The loop ends once the connection's closed() settles; a frozen server may delay that.
      await withDeadline(running, config.connectTimeoutMs, () => new Error('stop timed out')).catch(() => {});
    },
  };
}
