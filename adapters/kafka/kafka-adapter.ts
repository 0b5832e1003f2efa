/**
 * The Kafka adapter: one shared kafkajs producer per target, acks=all, idempotent by default.
 *
 * How a publish travels:
 *   publish() validates each message (topic name, size) and queues the rest. A micro-batcher
 *   coalesces everything queued by concurrent publish() calls into one producer.sendBatch (a
 *   "flush"): it starts lingerMs after the first message of an idle adapter, or at once when
 *   batchMaxMessages / batchMaxBytes is reached. Each message's receipt (partition, offset) is
 *   fanned back to its caller.
 *
 * Ordering. Exactly one flush is in flight per adapter, and a flush keeps enqueue order. So two
 * messages with the same key (same topic, hence same partition) are either in the same record
 * batch in order, or in flushes that ran one after the other. Several flushes in flight would race
 * when one fails and kafkajs retries it after a later one succeeded (a reorder), and kafkajs rolls
 * its idempotent sequence numbers back on a failure, which would corrupt a concurrent flush's
 * sequences. The producer also runs with maxInFlightRequests=1 so kafkajs itself never pipelines.
 * Throughput does not suffer much: while one flush is in flight the next one fills up.
 *
 * Idempotence and why the producer is replaced after a failure. kafkajs's idempotent producer
 * keeps per-partition sequence numbers and rolls them back when a produce request fails. That is
 * right for its own retries (the same messages go out again with the same numbers and the broker
 * drops duplicates), but wrong once kafkajs gives up: a partition the broker did write (a timeout
 * after the write, or another partition of the same request refusing) is now behind on the client,
 * and the next, different batch reusing those numbers is either refused forever
 * (OUT_OF_ORDER_SEQUENCE_NUMBER) or, with the same record count, silently "deduplicated" by the
 * broker: acknowledged and dropped. So after any failed send that got as far as choosing a
 * partition, the producer is discarded and a new one (a new producer id) is created.
 * Keyless messages keep their partition across kafkajs's internal retries (see
 * createStickyPartitioner) for the same reason: a retried batch must contain the same records.
 *
 * Failing fast. kafkajs's retries are bounded (config.retry) and every flush and connect attempt is
 * bounded by deliveryTimeoutMs. Once Kafka is found unreachable the adapter is 'down': publishes
 * answer ADP_ERR_UNAVAILABLE at once while a background loop reconnects with exponential backoff
 * (a successful health() check triggers an attempt at once). kafkajs emits no event when a broker
 * connection dies, so "down" is learned from failed sends, connects and health checks.
 */
import kafkajs from 'kafkajs';
import type {
  Admin,
  ICustomPartitioner,
  LogEntry,
  Message,
  Producer,
  RecordMetadata,
  SASLOptions,
  TopicMessages,
} from 'kafkajs';
import {
  AdapterError,
  abortable,
  approximateSize,
  backoffDelay,
  withDeadline,
  checkMessageSize,
  toWireHeaders,
  type AdapterDeps,
  type BrokerAdapter,
  type Capabilities,
  type HealthReport,
  type Logger,
  type MessageEnvelope,
  type PublishOptions,
  type PublishReceipt,
  type PublishResult,
} from '../core/index.js';
import { classifyKafkaError, isUnreachable } from './classify-error.js';
import type { KafkaConfig } from './config.js';

/** Reconnect waits spread ±20 % around the doubling ceiling (adapters/core/backoff.ts). */
const RECONNECT_JITTER = { spread: 0.2 } as const;

const { Kafka, Partitioners, CompressionTypes, logLevel: KafkaLogLevel } = kafkajs;

export const KAFKA_KIND = 'kafka';

/** Kafka's own limit on topic names. */
export const MAX_TOPIC_NAME_LENGTH = 249;
const TOPIC_NAME = /^[A-Za-z0-9._-]+$/;

/** health() answers are reused this long, so frequent /readyz polling costs one metadata request per second. */
const HEALTH_CACHE_MS = 1000;
/** Longest wait for a kafkajs disconnect() (it can hang on in-flight requests, kafkajs#918/#1167). */
const DISCONNECT_TIMEOUT_MS = 5000;

export type KafkaAdapterState = 'idle' | 'connecting' | 'up' | 'down' | 'closed';

/** Counters for tests, metrics and the admin API. */
export interface KafkaAdapterStats {
  readonly state: KafkaAdapterState;
  /** Messages accepted by publish() and waiting for a flush. */
  readonly queuedMessages: number;
  /** producer.sendBatch calls (flushes), split resends included. */
  readonly flushes: number;
  /** Messages handed to producer.sendBatch. */
  readonly flushedMessages: number;
  /** Produce requests kafkajs reported through its instrumentation events (its retries included). */
  readonly produceRequests: number;
  /** Requests kafkajs reported as timed out. */
  readonly requestTimeouts: number;
  /** Producers created: the first one, and one per reconnect or reset. */
  readonly producersCreated: number;
  /** Connect attempts made while Kafka was down. */
  readonly reconnectAttempts: number;
}

export interface KafkaAdapter extends BrokerAdapter {
  stats(): KafkaAdapterStats;
}

/** Returns ADP_ERR_INVALID_DESTINATION for a name Kafka would refuse (or that is internal), else undefined. */
export function validateTopicName(name: string): AdapterError | undefined {
  let problem: string | undefined;
  if (name.length === 0 || name.length > MAX_TOPIC_NAME_LENGTH)
    problem = `must be 1-${MAX_TOPIC_NAME_LENGTH} characters`;
  else if (!TOPIC_NAME.test(name)) problem = 'may contain only letters, digits, ".", "_" and "-"';
  else if (name === '.' || name === '..') problem = 'must not be "." or ".."';
  // Kafka's internal topics (__consumer_offsets, __transaction_state, __cluster_metadata) start
  // with two underscores; a gateway has no business writing to them.
  else if (name.startsWith('__')) problem = 'must not start with "__" (reserved for Kafka-internal topics)';
  if (problem === undefined) return undefined;
  return new AdapterError(
    'ADP_ERR_INVALID_DESTINATION',
    `invalid Kafka topic name ${JSON.stringify(name)}: ${problem}`,
  );
}

/** One message waiting for, or inside, a flush. */
interface Entry {
  readonly envelope: MessageEnvelope;
  /** The kafkajs message; its identity keys the partition the partitioner chose. */
  readonly message: Message;
  readonly bytes: number;
  readonly call: Call;
  readonly index: number;
  state: 'queued' | 'sending' | 'withdrawn';
}

/** One publish() call: its results, filled in as its messages settle. */
interface Call {
  readonly results: (PublishResult | undefined)[];
  remaining: number;
  finished: boolean;
  readonly done: () => void;
}

class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
}

export function createKafkaAdapter(target: string, config: KafkaConfig, deps: AdapterDeps): KafkaAdapter {
  const log = deps.logger.child({ adapter: KAFKA_KIND, target });
  const now = deps.now ?? Date.now;
  const batchMaxBytes = config.batchMaxBytes ?? config.maxMessageBytes;
  const compression = config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;

  const capabilities: Capabilities = Object.freeze({
    ordering: 'per-key',
    delay: false,
    transactions: false,
    nativeIdempotence: config.idempotent,
    maxMessageBytes: config.maxMessageBytes,
    maxDestinationLength: MAX_TOPIC_NAME_LENGTH,
    readable: false,
  });

  let state: KafkaAdapterState = 'idle';

  const kafkaRetry = {
    retries: config.retry.retries,
    initialRetryTime: config.retry.initialRetryTimeMs,
    maxRetryTime: config.retry.maxRetryTimeMs,
    factor: 0.2,
    multiplier: 2,
  };
  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl: config.ssl,
    ...(config.sasl ? { sasl: { ...config.sasl } as SASLOptions } : {}),
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    enforceRequestTimeout: true,
    retry: kafkaRetry,
    logLevel: KAFKAJS_LEVELS[config.clientLogLevel],
    logCreator: () => (entry) => forwardKafkaLog(log, entry, { quiet: state === 'down' }),
  });

  // The partition kafkajs's partitioner chose for each message (see createStickyPartitioner).
  const assigned = new WeakMap<Message, number>();
  const createPartitioner = createStickyPartitioner(assigned);

  let closing = false;
  let closePromise: Promise<void> | undefined;
  let producer: Producer | undefined;
  let connecting: Promise<void> | undefined;
  let lastFailure: AdapterError | undefined;
  let downSince = 0;
  let failedAttempts = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const queue: Entry[] = [];
  let queuedBytes = 0;
  let cancelLinger: (() => void) | undefined;
  let worker: Promise<void> | undefined;

  let admin: Admin | undefined;
  let healthProbe: Promise<HealthReport> | undefined;
  let healthCache: { at: number; report: HealthReport } | undefined;
  const retiring = new Set<Promise<void>>();

  const counters = {
    flushes: 0,
    flushedMessages: 0,
    produceRequests: 0,
    requestTimeouts: 0,
    producersCreated: 0,
    reconnectAttempts: 0,
  };

  if (config.idempotent) {
    log.debug(
      { retries: config.retry.retries },
      'idempotent producer with bounded retries; the producer is replaced after any failed send so sequence numbers never drift',
    );
  }

  // ---------------------------------------------------------------- producer lifecycle

  function createProducer(): Producer {
    counters.producersCreated += 1;
    const created = kafka.producer({
      createPartitioner,
      idempotent: config.idempotent,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: config.allowAutoTopicCreation,
      retry: kafkaRetry,
    });
    created.on(created.events.REQUEST, (event) => {
      if (event.payload.apiName === 'Produce') counters.produceRequests += 1;
    });
    created.on(created.events.REQUEST_TIMEOUT, (event) => {
      counters.requestTimeouts += 1;
      log.warn(
        {
          broker: event.payload.broker,
          api: event.payload.apiName,
          pendingMs: event.payload.pendingDuration,
        },
        'kafka request timed out',
      );
    });
    return created;
  }

  /** Starts (or joins) a connect attempt. Resolves when a fresh producer is up; rejects with an AdapterError. */
  function ensureConnecting(reason: 'start' | 'reconnect' | 'reset'): Promise<void> {
    if (connecting) return connecting;
    if (state === 'closed') return Promise.reject(closedError());
    clearReconnectTimer();
    const wasDown = state === 'down';
    if (wasDown) counters.reconnectAttempts += 1;
    else state = 'connecting';
    const attempt = (async () => {
      const candidate = createProducer();
      const connected = candidate.connect();
      try {
        await deadline(connected, config.deliveryTimeoutMs, 'connect');
      } catch (error) {
        void retire(candidate, connected);
        const failure =
          error instanceof DeadlineExceeded
            ? new AdapterError(
                'ADP_ERR_UNAVAILABLE',
                `kafka: no connection within deliveryTimeoutMs (${config.deliveryTimeoutMs} ms)`,
              )
            : classifyKafkaError(error, { phase: 'connect' });
        enterDown(failure);
        throw failure;
      }
      producer = candidate;
      state = 'up';
      if (wasDown) {
        log.info(
          { downForMs: now() - downSince, attempts: failedAttempts },
          'kafka connection recovered; publishing again',
        );
      } else if (reason === 'reset') {
        log.info({}, 'kafka producer replaced after a failed send');
      } else {
        log.info({ brokers: config.brokers }, 'connected to kafka');
      }
      failedAttempts = 0;
      lastFailure = undefined;
      scheduleFlush();
    })();
    connecting = attempt;
    void attempt.then(
      () => (connecting = undefined),
      () => (connecting = undefined),
    );
    return attempt;
  }

  /** Kafka is unreachable: fail fast from now on and reconnect in the background. */
  function enterDown(failure: AdapterError): void {
    lastFailure = failure;
    failedAttempts += 1;
    if (producer) {
      void retire(producer);
      producer = undefined;
    }
    if (state === 'closed') return;
    if (state !== 'down') {
      state = 'down';
      downSince = now();
      log.warn(
        { code: failure.code, error: failure.message },
        'kafka unreachable; publishes fail fast with ADP_ERR_UNAVAILABLE while the adapter reconnects in the background',
      );
    } else {
      log.warn(
        { attempt: failedAttempts, code: failure.code, error: failure.message },
        'kafka reconnect attempt failed',
      );
    }
    if (!closing) scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (reconnectTimer || closing) return;
    const delayMs = backoffDelay(failedAttempts, { ...config.reconnect, jitter: RECONNECT_JITTER });
    log.info({ attempt: failedAttempts + 1, backoffMs: delayMs }, 'reconnecting to kafka');
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      ensureConnecting('reconnect').catch(() => undefined); // enterDown logged it
    }, delayMs);
    reconnectTimer.unref();
  }

  function clearReconnectTimer(): void {
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = undefined;
  }

  /**
   * Disconnects a producer or admin we no longer use, without ever hanging the caller. If it still
   * has a request in flight, kafkajs reconnects when that request retries (kafkajs#1438), so it is
   * disconnected again once `pending` settles.
   */
  function retire(client: Producer | Admin, pending?: Promise<unknown>): Promise<void> {
    const task = (async () => {
      await disconnectQuietly(client);
      if (pending) {
        await deadline(pending, config.deliveryTimeoutMs * 2, 'abandoned request').catch(() => undefined);
        await disconnectQuietly(client);
      }
    })();
    retiring.add(task);
    void task.finally(() => retiring.delete(task));
    return task;
  }

  async function disconnectQuietly(client: Producer | Admin): Promise<void> {
    try {
      await deadline(client.disconnect(), DISCONNECT_TIMEOUT_MS, 'disconnect');
    } catch (error) {
      log.debug(
        { error: error instanceof Error ? error.message : String(error) },
        'kafkajs disconnect failed',
      );
    }
  }

  // ---------------------------------------------------------------- publishing

  async function publish(
    batch: readonly MessageEnvelope[],
    options: PublishOptions,
  ): Promise<PublishResult[]> {
    const { signal } = options;
    if (closing) throw closedError();
    if (signal.aborted) throw abortedError(signal, false);

    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const call: Call = {
      results: new Array(batch.length).fill(undefined),
      remaining: 0,
      finished: false,
      done: finish,
    };
    const entries: Entry[] = [];
    batch.forEach((envelope, index) => {
      const refused =
        validateTopicName(envelope.destination) ?? checkMessageSize(envelope, config.maxMessageBytes);
      if (refused) {
        call.results[index] = { ok: false, error: refused };
        return;
      }
      entries.push({
        envelope,
        message: toKafkaMessage(envelope),
        bytes: approximateSize(envelope),
        call,
        index,
        state: 'queued',
      });
    });
    if (entries.length === 0) return call.results as PublishResult[];

    const refusal = admissionError(entries.length);
    if (refusal) {
      for (const entry of entries) call.results[entry.index] = { ok: false, error: refusal };
      return call.results as PublishResult[];
    }

    call.remaining = entries.length;
    for (const entry of entries) {
      queue.push(entry);
      queuedBytes += entry.bytes;
    }
    if (state === 'idle') ensureConnecting('start').catch(() => undefined);
    scheduleFlush();

    try {
      await abortable(finished, signal);
    } catch {
      // kafkajs cannot cancel a send. Messages not yet handed to it are withdrawn (certainly not
      // written); those in the flush in flight may still be written: ambiguous.
      call.finished = true;
      let withdrew = false;
      for (const entry of entries) {
        if (call.results[entry.index] !== undefined) continue;
        const sent = entry.state === 'sending';
        if (!sent) {
          entry.state = 'withdrawn';
          queuedBytes -= entry.bytes;
          withdrew = true;
        }
        call.results[entry.index] = { ok: false, error: abortedError(signal, sent) };
      }
      if (withdrew) removeWithdrawn();
    }
    return call.results as PublishResult[];
  }

  /** Why new messages cannot be queued right now, if they cannot. */
  function admissionError(count: number): AdapterError | undefined {
    if (state === 'down') return downError();
    if (queue.length > 0 && queue.length + count > config.maxQueuedMessages) {
      return new AdapterError(
        'ADP_ERR_BACKPRESSURE',
        `kafka target ${target}: ${queue.length} messages already wait for the broker (maxQueuedMessages ${config.maxQueuedMessages})`,
      );
    }
    return undefined;
  }

  function settle(entry: Entry, result: PublishResult): void {
    const { call } = entry;
    if (call.finished || call.results[entry.index] !== undefined) return;
    call.results[entry.index] = result;
    call.remaining -= 1;
    if (call.remaining === 0) {
      call.finished = true;
      call.done();
    }
  }

  function removeWithdrawn(): void {
    let kept = 0;
    for (const entry of queue) if (entry.state !== 'withdrawn') queue[kept++] = entry;
    queue.length = kept;
  }

  /** Starts a flush now if the batch is full, after lingerMs otherwise; no-op while one runs. */
  function scheduleFlush(): void {
    if (worker || cancelLinger || queue.length === 0) return;
    if (state === 'down') {
      failQueued(downError());
      return;
    }
    if (closing || queue.length >= config.batchMaxMessages || queuedBytes >= batchMaxBytes) {
      startWorker();
      return;
    }
    if (config.lingerMs === 0) {
      const immediate = setImmediate(() => {
        cancelLinger = undefined;
        startWorker();
      });
      cancelLinger = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(() => {
        cancelLinger = undefined;
        startWorker();
      }, config.lingerMs);
      cancelLinger = () => clearTimeout(timer);
    }
  }

  function startWorker(): void {
    if (cancelLinger) {
      cancelLinger();
      cancelLinger = undefined;
    }
    if (worker || queue.length === 0) return;
    const run = drain();
    worker = run;
    void run.finally(() => {
      worker = undefined;
      scheduleFlush();
    });
  }

  /** The one flush loop: at most one sendBatch in flight per adapter (see the file comment). */
  async function drain(): Promise<void> {
    while (queue.length > 0) {
      if (state === 'idle' || state === 'connecting') {
        await ensureConnecting('start').catch(() => undefined);
      }
      const current = producer;
      if (state !== 'up' || current === undefined) {
        failQueued(downError());
        return;
      }
      const flush = takeFlush();
      if (flush.length > 0) await sendFlush(current, flush);
    }
  }

  function takeFlush(): Entry[] {
    const flush: Entry[] = [];
    let bytes = 0;
    let taken = 0;
    for (const entry of queue) {
      if (flush.length >= config.batchMaxMessages) break;
      if (flush.length > 0 && bytes + entry.bytes > batchMaxBytes) break;
      taken += 1;
      if (entry.state === 'withdrawn') continue;
      entry.state = 'sending';
      bytes += entry.bytes;
      flush.push(entry);
    }
    queue.splice(0, taken);
    queuedBytes -= bytes;
    return flush;
  }

  function failQueued(error: AdapterError): void {
    const failed = queue.splice(0, queue.length);
    queuedBytes = 0;
    for (const entry of failed) if (entry.state !== 'withdrawn') settle(entry, { ok: false, error });
  }

  /**
   * Sends one flush and settles its messages. A flush spanning several topics that fails for a
   * reason that is not "Kafka unreachable" (an unauthorized or missing topic, leadership moving on
   * one topic) is resent topic by topic with the same producer, so one bad topic does not fail the
   * other callers' messages. Resending with the same producer is what kafkajs's own retries do: the
   * same records per partition with the same sequence numbers, which the broker deduplicates.
   */
  async function sendFlush(current: Producer, flush: Entry[]): Promise<void> {
    const groups = groupByTopic(flush);
    const failure = await sendGroups(current, groups);
    if (failure === undefined) return;
    if (failure.abandoned || isUnreachable(failure.error) || groups.length === 1) {
      return afterFailure(current, failure, flush);
    }
    log.info(
      { topics: groups.length, code: failure.error.code, error: failure.error.message },
      'kafka flush failed; resending it topic by topic so one topic cannot fail the others',
    );
    // Other topics' partitions are untouched by one topic's failure, so the remaining groups can
    // still use this producer; it is replaced once they are done if a failure may have moved
    // sequence numbers.
    let reset = false;
    for (const group of groups) {
      if (producer !== current) {
        // An earlier group found Kafka unreachable; this one was not sent again.
        for (const entry of group.entries) settle(entry, { ok: false, error: downError() });
        continue;
      }
      const groupFailure = await sendGroups(current, [group]);
      if (groupFailure === undefined) continue;
      if (groupFailure.abandoned || isUnreachable(groupFailure.error)) {
        afterFailure(current, groupFailure, group.entries);
      } else {
        for (const entry of group.entries) settle(entry, { ok: false, error: groupFailure.error });
        if (groupFailure.partitionsTouched > 0) reset = true;
      }
    }
    if (reset) resetProducer(current);
  }

  interface TopicGroup {
    readonly topic: string;
    readonly entries: Entry[];
  }

  interface SendFailure {
    readonly error: AdapterError;
    readonly partitionsTouched: number;
    /** The deadline passed; kafkajs may still be working on (and writing) the request. */
    readonly abandoned: boolean;
    readonly pending: Promise<unknown>;
  }

  /** One producer.sendBatch. Settles the entries on success; returns the failure otherwise. */
  async function sendGroups(
    current: Producer,
    groups: readonly TopicGroup[],
  ): Promise<SendFailure | undefined> {
    const entries = groups.flatMap((g) => g.entries);
    const topicMessages: TopicMessages[] = groups.map((g) => ({
      topic: g.topic,
      messages: g.entries.map((e) => e.message),
    }));
    counters.flushes += 1;
    counters.flushedMessages += entries.length;
    const sending = current.sendBatch({
      topicMessages,
      acks: -1,
      timeout: config.requestTimeoutMs,
      compression,
    });
    try {
      const metadata = await deadline(sending, config.deliveryTimeoutMs, 'produce');
      settleFromMetadata(entries, metadata);
      return undefined;
    } catch (error) {
      const partitionsTouched = countPartitions(entries);
      if (error instanceof DeadlineExceeded) {
        return {
          error: new AdapterError(
            'ADP_ERR_TIMEOUT',
            `kafka: no acknowledgement within deliveryTimeoutMs (${config.deliveryTimeoutMs} ms); the broker may have the messages`,
            { ambiguous: true },
          ),
          partitionsTouched,
          abandoned: true,
          pending: sending,
        };
      }
      const classified = classifyKafkaError(error, {
        phase: 'send',
        partitionsTouched,
        autoTopicCreation: config.allowAutoTopicCreation,
      });
      return { error: classified, partitionsTouched, abandoned: false, pending: sending };
    }
  }

  function afterFailure(current: Producer, failure: SendFailure, entries: readonly Entry[]): void {
    for (const entry of entries) settle(entry, { ok: false, error: failure.error });
    if (failure.abandoned || isUnreachable(failure.error)) {
      if (producer === current) {
        producer = undefined;
        void retire(current, failure.abandoned ? failure.pending : undefined);
        enterDown(failure.error);
      }
      return;
    }
    if (failure.partitionsTouched > 0) resetProducer(current);
  }

  /** Replaces the producer after a failed send that may have moved broker-side sequence numbers. */
  function resetProducer(current: Producer): void {
    if (producer !== current) return;
    producer = undefined;
    void retire(current);
    state = 'connecting';
    ensureConnecting('reset').catch(() => undefined); // enterDown logs a failure
  }

  /**
   * kafkajs answers a sendBatch with one RecordMetadata per topic-partition, whose baseOffset is
   * the offset of the first record of that partition's batch. The records of one partition form
   * one batch in the order given, and Kafka assigns a batch consecutive offsets, so the i-th message
   * of a partition has offset baseOffset + i. A missing or duplicate partition in the answer (which
   * kafkajs can produce when leadership moves between brokers during its retries) fails the
   * affected messages as ambiguous rather than inventing an offset.
   */
  function settleFromMetadata(entries: readonly Entry[], metadata: readonly RecordMetadata[]): void {
    const slots = new Map<string, { base: bigint; next: number } | 'inconsistent'>();
    for (const record of metadata) {
      const key = partitionKey(record.topicName, record.partition);
      const raw = record.baseOffset ?? record.offset;
      let base: bigint | undefined;
      try {
        base = raw === undefined ? undefined : BigInt(raw);
      } catch {
        base = undefined;
      }
      slots.set(key, slots.has(key) || base === undefined || base < 0n ? 'inconsistent' : { base, next: 0 });
    }
    for (const entry of entries) {
      const partition = assigned.get(entry.message);
      const slot =
        partition === undefined ? undefined : slots.get(partitionKey(entry.envelope.destination, partition));
      if (partition === undefined || slot === undefined || slot === 'inconsistent') {
        settle(entry, {
          ok: false,
          error: new AdapterError(
            'ADP_ERR_INTERNAL',
            `kafka: the produce response has no usable offset for message ${entry.envelope.id} ` +
              `(topic ${entry.envelope.destination}, partition ${partition ?? 'unknown'}); it may have been written`,
            { ambiguous: true },
          ),
        });
        continue;
      }
      const receipt: PublishReceipt = {
        messageId: entry.envelope.id,
        broker: KAFKA_KIND,
        target,
        partition,
        offset: (slot.base + BigInt(slot.next)).toString(),
      };
      slot.next += 1;
      settle(entry, { ok: true, receipt });
    }
  }

  function countPartitions(entries: readonly Entry[]): number {
    const seen = new Set<string>();
    for (const entry of entries) {
      const partition = assigned.get(entry.message);
      if (partition !== undefined) seen.add(partitionKey(entry.envelope.destination, partition));
    }
    return seen.size;
  }

  // ---------------------------------------------------------------- errors

  function downError(): AdapterError {
    const cause = lastFailure;
    const code = cause?.code === 'ADP_ERR_AUTH' ? 'ADP_ERR_AUTH' : 'ADP_ERR_UNAVAILABLE';
    const since = downSince > 0 ? ` since ${new Date(downSince).toISOString()}` : '';
    return new AdapterError(
      code,
      `kafka target ${target} is unreachable${since}; reconnecting in the background` +
        (cause ? `: ${cause.message}` : ''),
      { cause, ambiguous: false },
    );
  }

  function closedError(): AdapterError {
    return new AdapterError('ADP_ERR_CLOSED', `kafka adapter ${target} is closed`);
  }

  // ---------------------------------------------------------------- health

  function health(): Promise<HealthReport> {
    if (closing) return Promise.resolve({ ok: false, detail: 'closed' });
    if (healthCache && now() - healthCache.at < HEALTH_CACHE_MS) return Promise.resolve(healthCache.report);
    if (!healthProbe) {
      const probe = probeHealth().then((report) => {
        healthCache = { at: now(), report };
        return report;
      });
      healthProbe = probe;
      void probe.finally(() => (healthProbe = undefined));
    }
    return healthProbe;
  }

  async function probeHealth(): Promise<HealthReport> {
    let client = admin;
    try {
      const check = (async () => {
        if (!client) {
          client = kafka.admin({ retry: { ...kafkaRetry, retries: 1 } });
          admin = client;
          await client.connect();
        }
        await client.describeCluster();
      })();
      await deadline(check, config.healthCheckTimeoutMs, 'health check');
    } catch (error) {
      if (client && admin === client) {
        admin = undefined;
        void retire(client);
      }
      const failure =
        error instanceof DeadlineExceeded
          ? new AdapterError(
              'ADP_ERR_UNAVAILABLE',
              `kafka: no metadata answer within healthCheckTimeoutMs (${config.healthCheckTimeoutMs} ms)`,
            )
          : classifyKafkaError(error, { phase: 'health' });
      // Learn "down" from the probe too, so publishes fail fast before one of them has to time out.
      // Not while a flush is in flight: its own outcome decides, and it owns the producer.
      if (state === 'up' && isUnreachable(failure) && !worker && producer) {
        const current = producer;
        producer = undefined;
        void retire(current);
        enterDown(failure);
      }
      return { ok: false, detail: failure.message };
    }
    if (state === 'down') {
      // The cluster answers again: reconnect now instead of waiting for the backoff timer.
      ensureConnecting('reconnect').catch(() => undefined);
      return { ok: false, detail: `reconnecting: ${lastFailure?.message ?? 'kafka was unreachable'}` };
    }
    if (state === 'idle') return { ok: false, detail: 'not connected yet (connect() not called)' };
    if (state === 'connecting') return { ok: false, detail: 'connecting' };
    return { ok: true };
  }

  // ---------------------------------------------------------------- connect / close

  async function connect(signal?: AbortSignal): Promise<void> {
    if (closing) throw closedError();
    if (state === 'up') return;
    const attempt = ensureConnecting('start');
    if (signal) await abortable(attempt, signal);
    else await attempt;
  }

  function close(): Promise<void> {
    closePromise ??= (async () => {
      closing = true;
      clearReconnectTimer();
      // Accepted messages are still sent (or failed fast if Kafka is down), then everything closes.
      startWorker();
      while (worker) await worker;
      if (connecting) await connecting.catch(() => undefined);
      failQueued(closedError());
      state = 'closed';
      const clients: (Producer | Admin)[] = [];
      if (producer) clients.push(producer);
      if (admin) clients.push(admin);
      producer = undefined;
      admin = undefined;
      await Promise.all(clients.map((client) => retire(client)));
      // A producer abandoned after deliveryTimeoutMs may still be retrying inside kafkajs; give it
      // a short grace to settle and disconnect, but never let it hold up shutdown for long.
      const leftovers = [...retiring];
      const settled = await deadline(Promise.all(leftovers), DISCONNECT_TIMEOUT_MS, 'retiring clients').then(
        () => true,
        () => false,
      );
      if (!settled) {
        log.warn(
          { clients: leftovers.length },
          'kafka adapter closed with an abandoned kafkajs request still pending',
        );
      }
      log.info({}, 'kafka adapter closed');
    })();
    return closePromise;
  }

  function stats(): KafkaAdapterStats {
    return { state, queuedMessages: queue.length, ...counters };
  }

  return {
    kind: KAFKA_KIND,
    target,
    capabilities,
    connect,
    publish,
    health,
    close,
    stats,
  };
}

// ------------------------------------------------------------------ helpers

function toKafkaMessage(envelope: MessageEnvelope): Message {
  const { payload } = envelope;
  return {
    key: envelope.key ?? null,
    value: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    headers: toWireHeaders(envelope),
    // No timestamp: the broker-side CreateTime stays "now". createdAt travels in the
    // pubgate-created-at header; a message replayed from the outbox days later must not carry an
    // old timestamp, or time-based retention could delete it at once.
  };
}

function groupByTopic(entries: readonly Entry[]): { topic: string; entries: Entry[] }[] {
  const groups = new Map<string, Entry[]>();
  for (const entry of entries) {
    const group = groups.get(entry.envelope.destination);
    if (group) group.push(entry);
    else groups.set(entry.envelope.destination, [entry]);
  }
  return [...groups].map(([topic, grouped]) => ({ topic, entries: grouped }));
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * kafkajs's DefaultPartitioner (Java-compatible murmur2 for keyed messages, round-robin over
 * available partitions for keyless ones), made sticky per message and recorded:
 *   - kafkajs re-partitions every message on each internal retry. A keyless message could move to
 *     another partition between attempts, so a retried partition batch would hold different
 *     records under the same sequence numbers, which the broker may acknowledge as a duplicate of
 *     the first attempt and drop. Keeping each message's first partition prevents that.
 *   - The recorded partition gives each message its receipt and tells the error classification
 *     whether kafkajs got as far as building a produce request.
 */
export function createStickyPartitioner(assigned: WeakMap<Message, number>): ICustomPartitioner {
  return () => {
    const partitioner = Partitioners.DefaultPartitioner();
    return (args) => {
      const previous = assigned.get(args.message);
      if (previous !== undefined && args.partitionMetadata.some((p) => p.partitionId === previous))
        return previous;
      const partition = partitioner(args);
      assigned.set(args.message, partition);
      return partition;
    };
  };
}

function deadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(promise, ms, () => new DeadlineExceeded(`${what} took longer than ${ms} ms`));
}

function abortedError(signal: AbortSignal, ambiguous: boolean): AdapterError {
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error ? reason.message : 'aborted';
  return new AdapterError(
    'ADP_ERR_ABORTED',
    ambiguous
      ? `publish aborted while kafka was writing the message (it may have been written): ${detail}`
      : `publish aborted before the message was sent: ${detail}`,
    { cause: reason, ambiguous },
  );
}

const KAFKAJS_LEVELS = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
} as const;

/**
 * kafkajs's log lines as structured entries of the injected logger. kafkajs logs every failed
 * attempt at ERROR even when its retry then succeeds, so its errors become warnings; the adapter
 * logs at error/warn what actually failed. Its timestamp and logger name are dropped (the
 * gateway's logger adds its own); the namespace (Connection, BrokerPool, Producer, ...) is kept.
 * `quiet` (set while the adapter knows Kafka is down) demotes kafkajs's errors and warnings to
 * debug: every refused connection would otherwise log twice per retry, and the adapter already
 * logs each reconnect attempt with its backoff.
 */
export function forwardKafkaLog(log: Logger, entry: LogEntry, options: { quiet?: boolean } = {}): void {
  const {
    message,
    timestamp: _timestamp,
    logger: _logger,
    ...fields
  } = entry.log as {
    message: string;
    timestamp?: string;
    logger?: string;
    [field: string]: unknown;
  };
  const structured = { kafkajs: entry.namespace, ...fields };
  // kafkajs warns on every idempotent producer created with bounded retries; this adapter bounds
  // them on purpose and replaces the producer after a failure instead (see the file comment).
  if (message.startsWith('Limiting retries for the idempotent producer')) {
    log.debug(structured, message);
    return;
  }
  switch (entry.level) {
    case KafkaLogLevel.ERROR:
    case KafkaLogLevel.WARN:
      if (options.quiet) log.debug(structured, message);
      else log.warn(structured, message);
      break;
    case KafkaLogLevel.INFO:
      log.info(structured, message);
      break;
    default:
      log.debug(structured, message);
  }
}
