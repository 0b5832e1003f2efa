/**
 * RocketMQ 5 adapter: publishes through the proxy's gRPC API with rocketmq-client-nodejs.
 *
 * "Confirmed" = the proxy answered SEND_OK for the message (status OK): the broker appended it to its
 * commit log. How durable that is depends on the broker: flushDiskType=SYNC_FLUSH for an fsync before
 * the answer, brokerRole=SYNC_MASTER for a replica; with those, a flush or replication timeout comes
 * back as an ambiguous ADP_ERR_TIMEOUT, never as a confirm.
 *
 * Connection states (each change logged with the target name):
 *   idle -> connecting -> up <-> down, and closed from anywhere.
 * While not up, publish fails at once with ADP_ERR_UNAVAILABLE (nothing sent, retriable). A
 * transport failure while up triggers one heartbeat probe; if the proxy does not answer, the state
 * becomes down, the client is retired and a fresh one is tried with exponential backoff (a fresh
 * client means a fresh gRPC channel, which does not wait out grpc-js's own reconnect backoff of up
 * to two minutes).
 */
import {
  AdapterError,
  abortable,
  backoffDelay,
  checkMessageSize,
  fanOutSignal,
  type AdapterDeps,
  type BrokerAdapter,
  type Capabilities,
  type HealthReport,
  type MessageEnvelope,
  type PublishOptions,
  type PublishResult,
} from '../core/index.js';
import type { MessageOptions, ProducerOptions } from 'rocketmq-client-nodejs';
import {
  classifyProbeStatus,
  classifyRocketMqError,
  isConnectivityFailure,
  type ClassifyContext,
} from './classify-error.js';
import { MAX_TOPIC_LENGTH, type RocketMqConfig } from './config.js';
import { addressFor, messageGroupFor, messageKeysFor } from './destination.js';
import {
  baseClientOptions,
  clientLogger,
  createGuardedProducer,
  type GuardedClientOptions,
  type ClientErrorSink,
  type RocketMqProducerClient,
} from './guarded-client.js';
import { toRocketMqProperties } from './wire-properties.js';

export const ROCKETMQ_KIND = 'rocketmq';

/**
 * After a (re)connect the new client looks routes up again, and a proxy that has just restarted may
 * not know a topic's route for a few seconds; TOPIC_NOT_FOUND is reported retriable for this long.
 */
const ROUTE_GRACE_MS = 30_000;
/** Topics remembered as existing (a send succeeded), for the grace above; a bound, not a cache. */
const MAX_KNOWN_TOPICS = 10_000;

/** Seam for unit tests: how the adapter builds its producer client. */
export type RocketMqClientFactory = (
  options: ProducerOptions,
  report: ClientErrorSink,
  extra: GuardedClientOptions,
) => RocketMqProducerClient;

export interface RocketMqAdapterInternals {
  readonly createClient?: RocketMqClientFactory;
  /** Math.random replacement for the reconnect jitter. */
  readonly random?: () => number;
}

type State = 'idle' | 'connecting' | 'up' | 'down' | 'closed';

interface ClientHandle {
  readonly client: RocketMqProducerClient;
  /** Raw client sends not yet settled (they outlive our timeouts); the client is disposed after them. */
  readonly sends: Set<Promise<void>>;
}

interface SendOutcome {
  readonly result: PublishResult;
  /** Settles when the client's own call settled (later than `result` after a timeout or abort). */
  readonly settled: Promise<void>;
}

type Prepared =
  | { readonly ok: false; readonly error: AdapterError }
  | { readonly ok: true; readonly message: MessageOptions; readonly group?: string };

export function createRocketMqAdapter(
  target: string,
  config: RocketMqConfig,
  deps: AdapterDeps,
  internals: RocketMqAdapterInternals = {},
): BrokerAdapter {
  const log = deps.logger.child({ adapter: ROCKETMQ_KIND, target });
  const now = deps.now ?? Date.now;
  const random = internals.random ?? Math.random;
  const createClient = internals.createClient ?? createGuardedProducer;
  const endpoints = config.endpoints;
  /**
   * How long the client's own call can take: a route lookup plus maxAttempts sends, each bounded by
   * requestTimeoutMs. Waits for a raw call (FIFO ordering, disposing a client) never exceed this, so
   * a call the client never settles cannot wedge a message group or close().
   */
  const rawCallBoundMs = config.requestTimeoutMs * (config.maxAttempts + 1) + 1_000;

  const capabilities: Capabilities = Object.freeze({
    ordering: config.fifo ? 'per-key' : 'none',
    delay: false,
    transactions: false,
    nativeIdempotence: false,
    maxMessageBytes: config.maxMessageBytes,
    maxDestinationLength: MAX_TOPIC_LENGTH,
    readable: false,
  });

  let state: State = 'idle';
  let current: ClientHandle | undefined;
  let connectedAt = 0;
  /** Topics a send has succeeded on: only these get the route grace after a reconnect. */
  const knownTopics = new Set<string>();
  let downSince = 0;
  let lastError: AdapterError | undefined;
  let attemptInFlight: Promise<ClientHandle> | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectAttempts = 0;
  let probeInFlight: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const publishes = new Set<Promise<unknown>>();
  const retiring = new Set<Promise<void>>();
  /** FIFO: the tail of each message group's send chain (messages of a group go one at a time). */
  const groupTails = new Map<string, Promise<void>>();

  // ---------------------------------------------------------------- connection management

  function newHandle(): ClientHandle {
    const handle: { client?: RocketMqProducerClient; sends: Set<Promise<void>> } = { sends: new Set() };
    const loud = () => state === 'up' && current === handle;
    const report: ClientErrorSink = (source, error) => {
      const fields = { source, err: error };
      if (isConnectivityFailure(error)) {
        // The client's telemetry stream is the first to notice a proxy going away, often long
        // before a publish does: probe now, so the outage is detected (and logged once) early.
        log.debug(fields, 'rocketmq client lost its stream to the proxy');
        if (current === handle) checkConnection(handle as ClientHandle);
      } else if (loud()) {
        log.warn(fields, 'contained a failure inside rocketmq-client-nodejs');
      } else {
        log.debug(fields, 'contained a failure inside rocketmq-client-nodejs');
      }
    };
    const options: ProducerOptions = {
      ...baseClientOptions(config, endpoints),
      maxAttempts: config.maxAttempts,
      logger: clientLogger(log, loud, () => checkConnection(handle as ClientHandle)),
    };
    handle.client = createClient(options, report, { pinEndpoints: config.routeEndpoints === 'configured' });
    return handle as ClientHandle;
  }

  async function openClient(): Promise<ClientHandle> {
    let handle: ClientHandle | undefined;
    try {
      handle = newHandle();
      // Without declared topics, startup() does not call the proxy: routes are looked up per topic
      // on first send. The heartbeat probe is what tells whether the proxy answers.
      await handle.client.startup();
      const status = await handle.client.probe(config.requestTimeoutMs);
      const refused = classifyProbeStatus(status);
      if (refused) throw refused;
      if (config.topic !== undefined) await handle.client.prefetchRoute(config.topic);
      return handle;
    } catch (error) {
      if (handle) retire(handle);
      throw classifyRocketMqError(error);
    }
  }

  /** One connection attempt at a time, shared by connect() and the reconnect loop. */
  function attempt(): Promise<ClientHandle> {
    attemptInFlight ??= openClient().then(
      (handle) => {
        attemptInFlight = undefined;
        if (state === 'closed') {
          retire(handle);
          throw closedError();
        }
        becomeUp(handle);
        return handle;
      },
      (error: unknown) => {
        attemptInFlight = undefined;
        lastError = classifyRocketMqError(error);
        throw lastError;
      },
    );
    return attemptInFlight;
  }

  function becomeUp(handle: ClientHandle): void {
    const previous = current;
    const wasDownFor = state === 'down' ? now() - downSince : undefined;
    const attempts = reconnectAttempts;
    current = handle;
    state = 'up';
    connectedAt = now();
    reconnectAttempts = 0;
    lastError = undefined;
    clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
    if (previous && previous !== handle) retire(previous);
    if (wasDownFor === undefined) log.info({ endpoints, attempts }, 'rocketmq proxy connected');
    else log.info({ endpoints, downMs: wasDownFor, attempts }, 'rocketmq proxy connection recovered');
  }

  function markDown(error: AdapterError): void {
    if (state !== 'up') return;
    state = 'down';
    downSince = now();
    lastError = error;
    const handle = current;
    current = undefined;
    if (handle) retire(handle);
    log.warn(
      { endpoints, err: error },
      'rocketmq proxy connection lost; publishes fail fast with ADP_ERR_UNAVAILABLE until it is back',
    );
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (state === 'closed' || state === 'up' || reconnectTimer !== undefined) return;
    const delay = backoffDelay(
      reconnectAttempts + 1,
      {
        initialDelayMs: config.reconnectInitialDelayMs,
        maxDelayMs: config.reconnectMaxDelayMs,
        jitter: { spread: 0.2 },
      },
      random,
    );
    reconnectAttempts += 1;
    log.info(
      { endpoints, attempt: reconnectAttempts, backoffMs: delay, lastError: lastError?.message },
      'reconnecting to rocketmq proxy',
    );
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (state === 'closed' || state === 'up') return;
      attempt().catch((error: unknown) => {
        const failure = classifyRocketMqError(error);
        if (state === 'closed') return;
        const fields = { endpoints, attempt: reconnectAttempts, err: failure };
        if (failure.retriable) log.info(fields, 'rocketmq reconnect attempt failed');
        else
          log.error(fields, 'rocketmq reconnect attempt failed; check the configuration (will keep trying)');
        scheduleReconnect();
      });
    }, delay);
    reconnectTimer.unref();
  }

  /** After a transport failure: does the proxy still answer? One probe at a time. */
  function checkConnection(handle: ClientHandle): void {
    if (state !== 'up' || current !== handle || probeInFlight) return;
    probeInFlight = handle.client
      .probe(config.requestTimeoutMs)
      .then(
        () => undefined,
        (error: unknown) => {
          if (isConnectivityFailure(error) && current === handle) markDown(classifyRocketMqError(error));
        },
      )
      .finally(() => {
        probeInFlight = undefined;
      });
  }

  /** Disposes a client once its raw sends settled (bounded by the client's gRPC deadlines). */
  function retire(handle: ClientHandle): void {
    const done = (async () => {
      await Promise.allSettled([...handle.sends]);
      await handle.client.dispose(config.requestTimeoutMs + 1_000);
    })().catch((error: unknown) => log.warn({ err: error }, 'rocketmq client did not shut down cleanly'));
    retiring.add(done);
    void done.finally(() => retiring.delete(done));
  }

  // ---------------------------------------------------------------- publishing

  function prepare(envelope: MessageEnvelope): Prepared {
    const tooLarge = checkMessageSize(envelope, config.maxMessageBytes);
    if (tooLarge) return { ok: false, error: tooLarge };
    let address: ReturnType<typeof addressFor>;
    try {
      address = addressFor(envelope.destination, config);
    } catch (error) {
      return { ok: false, error: classifyRocketMqError(error) };
    }
    const { payload } = envelope;
    const message: MessageOptions = {
      topic: address.topic,
      body: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      keys: messageKeysFor(envelope),
      properties: toRocketMqProperties(envelope),
      ...(address.tag === undefined ? {} : { tag: address.tag }),
    };
    // deliverAt is not sent: capabilities.delay is false, so the reliability layer holds delayed
    // messages and hands them over when due.
    if (!config.fifo) return { ok: true, message };
    const group = messageGroupFor(envelope, config.unkeyedMessageGroup);
    return { ok: true, message: { ...message, messageGroup: group }, group };
  }

  /**
   * A TOPIC_NOT_FOUND is transient only for a topic known to exist (a send succeeded on it) and only
   * within the grace after a (re)connect; any other is a missing destination, answered at once.
   */
  function classifyContext(topic: string): ClassifyContext {
    return {
      clientMayHaveRetried: config.maxAttempts > 1,
      topicNotFoundIsTransient: knownTopics.has(topic) && now() - connectedAt < ROUTE_GRACE_MS,
    };
  }

  function rememberTopic(topic: string): void {
    if (knownTopics.has(topic)) return;
    if (knownTopics.size >= MAX_KNOWN_TOPICS) knownTopics.clear();
    knownTopics.add(topic);
  }

  async function sendOne(
    handle: ClientHandle,
    envelope: MessageEnvelope,
    message: MessageOptions,
    signal: AbortSignal,
  ): Promise<SendOutcome> {
    if (signal.aborted)
      return { result: { ok: false, error: notSentAborted(signal) }, settled: Promise.resolve() };
    let raw: Promise<{ readonly messageId: string }>;
    try {
      raw = handle.client.send(message);
    } catch (error) {
      return {
        result: { ok: false, error: classifyRocketMqError(error, classifyContext(message.topic)) },
        settled: Promise.resolve(),
      };
    }
    const settled = settledOrAfter(raw, rawCallBoundMs);
    handle.sends.add(settled);
    void settled.then(() => handle.sends.delete(settled));

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AdapterError(
              'ADP_ERR_TIMEOUT',
              `no answer from the rocketmq proxy within ${config.sendTimeoutMs} ms; the broker may have stored message ${envelope.id}`,
            ),
          ),
        config.sendTimeoutMs,
      );
    });
    try {
      const receipt = await abortable(Promise.race([raw, timeout]), signal);
      rememberTopic(message.topic);
      return {
        result: {
          ok: true,
          receipt: {
            messageId: envelope.id,
            broker: ROCKETMQ_KIND,
            target,
            ...(receipt.messageId ? { brokerMessageId: receipt.messageId } : {}),
          },
        },
        settled,
      };
    } catch (error) {
      const failure = classifyRocketMqError(error, classifyContext(message.topic));
      if (
        isConnectivityFailure(error) ||
        (error instanceof AdapterError && error.code === 'ADP_ERR_TIMEOUT')
      ) {
        checkConnection(handle);
      }
      return { result: { ok: false, error: failure }, settled };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * FIFO: sends one publish call's messages of one group in order, after every earlier message of
   * that group (from any call) got its answer. A retriable failure holds back the rest of the
   * call's messages of that group (sending them would let them overtake the failed one when it is
   * retried); they fail as not sent and retriable.
   */
  function sendGroup(
    handle: ClientHandle,
    group: string,
    items: ReadonlyArray<{ index: number; envelope: MessageEnvelope; message: MessageOptions }>,
    results: PublishResult[],
    signal: AbortSignal,
  ): Promise<void> {
    const previous = groupTails.get(group) ?? Promise.resolve();
    const run = (async () => {
      await abortable(previous, signal).catch(() => undefined);
      let blockedBy: AdapterError | undefined;
      let lastSettled: Promise<void> = Promise.resolve();
      for (const { index, envelope, message } of items) {
        if (blockedBy) {
          results[index] = { ok: false, error: heldBack(envelope, blockedBy) };
          continue;
        }
        const outcome = await sendOne(handle, envelope, message, signal);
        results[index] = outcome.result;
        lastSettled = outcome.settled;
        if (!outcome.result.ok && outcome.result.error.retriable) blockedBy = outcome.result.error;
      }
      return { lastSettled };
    })();
    // The group's next message waits for the broker's answer to this one, not just for our timeout:
    // a message still in flight must not be overtaken.
    const tail = run
      .then(({ lastSettled }) => lastSettled)
      .then(
        () => previous,
        () => previous,
      );
    groupTails.set(group, tail);
    void tail.then(() => {
      if (groupTails.get(group) === tail) groupTails.delete(group);
    });
    return run.then(() => undefined);
  }

  async function publishBatch(
    handle: ClientHandle,
    batch: readonly MessageEnvelope[],
    signal: AbortSignal,
  ): Promise<PublishResult[]> {
    const results: PublishResult[] = new Array<PublishResult>(batch.length);
    const groups = new Map<
      string,
      Array<{ index: number; envelope: MessageEnvelope; message: MessageOptions }>
    >();
    const sends: Promise<void>[] = [];
    batch.forEach((envelope, index) => {
      const prepared = prepare(envelope);
      if (!prepared.ok) {
        results[index] = { ok: false, error: prepared.error };
      } else if (prepared.group === undefined) {
        // NORMAL messages: all in flight at once over the one HTTP/2 connection.
        sends.push(
          sendOne(handle, envelope, prepared.message, signal).then((o) => void (results[index] = o.result)),
        );
      } else {
        const items = groups.get(prepared.group) ?? [];
        items.push({ index, envelope, message: prepared.message });
        groups.set(prepared.group, items);
      }
    });
    for (const [group, items] of groups) sends.push(sendGroup(handle, group, items, results, signal));
    await Promise.all(sends);
    return results;
  }

  // ---------------------------------------------------------------- the adapter

  return {
    kind: ROCKETMQ_KIND,
    target,
    capabilities,

    async connect(signal?: AbortSignal): Promise<void> {
      if (state === 'closed') throw closedError();
      if (state === 'up') return;
      if (state === 'idle') {
        state = 'connecting';
        log.info({ endpoints, fifo: config.fifo }, 'connecting to rocketmq proxy');
      }
      const pending = attempt();
      pending.catch(() => {
        // Keep trying in the background as well: publishes recover without another connect() call.
        if (state === 'connecting' || state === 'down') scheduleReconnect();
      });
      await (signal ? abortable(pending, signal) : pending);
    },

    async publish(batch: readonly MessageEnvelope[], options: PublishOptions): Promise<PublishResult[]> {
      if (state === 'closed') throw closedError();
      if (options.signal.aborted) throw notSentAborted(options.signal);
      const handle = current;
      if (state !== 'up' || handle === undefined) throw unavailableError();
      if (batch.length === 0) return [];
      const fanned = fanOutSignal(options.signal, batch.length);
      const work = publishBatch(handle, batch, fanned.signal).finally(fanned.release);
      publishes.add(work);
      void work.finally(() => publishes.delete(work)).catch(() => undefined);
      return work;
    },

    async health(): Promise<HealthReport> {
      if (state === 'closed') return { ok: false, detail: 'closed' };
      const handle = current;
      if (state !== 'up' || handle === undefined) return { ok: false, detail: unavailableError().message };
      try {
        const refused = classifyProbeStatus(await handle.client.probe(config.requestTimeoutMs));
        if (refused) return { ok: false, detail: refused.message };
        return { ok: true, detail: `rocketmq proxy ${endpoints} answers` };
      } catch (error) {
        const failure = classifyRocketMqError(error);
        if (isConnectivityFailure(error) && current === handle) markDown(failure);
        return { ok: false, detail: failure.message };
      }
    },

    close(): Promise<void> {
      closing ??= (async () => {
        const wasUp = state === 'up';
        state = 'closed';
        clearTimeout(reconnectTimer);
        reconnectTimer = undefined;
        await Promise.allSettled([...publishes]);
        await attemptInFlight?.catch(() => undefined);
        const handle = current;
        current = undefined;
        if (handle) retire(handle);
        await Promise.allSettled([...retiring]);
        log.info({ endpoints, wasUp }, 'rocketmq adapter closed');
      })();
      return closing;
    },
  };

  function unavailableError(): AdapterError {
    const since = downSince > 0 ? ` since ${new Date(downSince).toISOString()}` : '';
    const detail = lastError ? `; last error: ${lastError.message}` : '';
    const what =
      state === 'idle'
        ? 'not connected yet (connect() was not called)'
        : `not reachable${since} (${state}, reconnect attempt ${reconnectAttempts})`;
    return new AdapterError('ADP_ERR_UNAVAILABLE', `rocketmq proxy ${endpoints} ${what}${detail}`);
  }
}

/** Resolves when `promise` settles (either way) or after `ms`, whichever comes first. */
function settledOrAfter(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  const settled = promise.then(
    () => undefined,
    () => undefined,
  );
  return Promise.race([settled, bound]).finally(() => clearTimeout(timer));
}

function closedError(): AdapterError {
  return new AdapterError('ADP_ERR_CLOSED', 'the rocketmq adapter is closed');
}

function notSentAborted(signal: AbortSignal): AdapterError {
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error ? reason.message : 'aborted';
  return new AdapterError('ADP_ERR_ABORTED', `not sent: ${detail}`, { cause: reason, ambiguous: false });
}

function heldBack(envelope: MessageEnvelope, blockedBy: AdapterError): AdapterError {
  return new AdapterError(
    blockedBy.code,
    `not sent: message ${envelope.id} waits behind an earlier message with the same key that failed (${blockedBy.message}); sending it first would break the key's order`,
    { cause: blockedBy, retriable: true, ambiguous: false },
  );
}
