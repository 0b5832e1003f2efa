/**
 * Configuration of the Kafka adapter (kafkajs 2.2.x underneath). Every option is documented here
 * with its default; the folder's README lists the same options. Unknown keys are rejected (strict
 * object) and values the adapter cannot honour are rejected at start, never silently adjusted.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

/**
 * 1 MiB: the broker's default `message.max.bytes` is 1048588 (1 MiB + 12). Kafka checks that limit
 * per record *batch*, which is why batchMaxBytes may not exceed maxMessageBytes (see below).
 */
export const DEFAULT_MAX_MESSAGE_BYTES = MiB;

/** host:port, host being a name, an IPv4 address or a bracketed IPv6 address. */
const brokerAddress = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, {
    message: 'must be host:port, e.g. 127.0.0.1:9092 or kafka-0.kafka:9092',
  })
  .refine((value) => {
    const port = Number(value.slice(value.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65_535;
  }, 'port must be 1-65535');

const saslSchema = z.strictObject({
  mechanism: z
    .enum(['plain', 'scram-sha-256', 'scram-sha-512'])
    .describe(
      'SASL mechanism. plain sends the password as is: only use it together with ssl: true. Required when sasl is set.',
    ),
  username: z.string().min(1).describe('SASL user name. Required when sasl is set.'),
  password: z
    .string()
    .min(1)
    .describe(
      'SASL password; use ${ENV} interpolation in the config file. Never logged. Required when sasl is set.',
    ),
});

const retrySchema = z
  .strictObject({
    retries: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(3)
      .describe(
        'How often kafkajs retries one request (a produce, a metadata refresh, a connect to a seed broker) ' +
          'before giving up. Retries inside one flush reuse the same producer id and sequence numbers, so the ' +
          'idempotent producer keeps them duplicate-free. At least 1 (kafkajs refuses 0 for an idempotent ' +
          'producer). Bounded on purpose: kafkajs defaults to unlimited retries for an idempotent producer, ' +
          'which makes a publish hang while the broker is down. Default: 3.',
      ),
    initialRetryTimeMs: z
      .number()
      .int()
      .min(10)
      .max(10_000)
      .default(100)
      .describe('Wait before the first retry; each next wait doubles (±20% jitter). Default: 100.'),
    maxRetryTimeMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(1000)
      .describe('Cap of one retry wait. Default: 1000.'),
  })
  .refine((r) => r.maxRetryTimeMs >= r.initialRetryTimeMs, {
    message: 'maxRetryTimeMs must be at least initialRetryTimeMs',
    path: ['maxRetryTimeMs'],
  });

const reconnectSchema = z
  .strictObject({
    initialDelayMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(250)
      .describe(
        'Delay before the first background reconnect once Kafka is found unreachable; attempt n waits ' +
          'min(maxDelayMs, initialDelayMs * 2^(n-1)) ms ±20%. Default: 250.',
      ),
    maxDelayMs: z
      .number()
      .int()
      .min(10)
      .max(600_000)
      .default(5000)
      .describe(
        'Cap of the reconnect delay. It is also the longest time the adapter keeps failing fast after Kafka ' +
          'is back (a successful health() check shortens it: it triggers a reconnect at once). Default: 5000.',
      ),
  })
  .refine((r) => r.maxDelayMs >= r.initialDelayMs, {
    message: 'maxDelayMs must be at least initialDelayMs',
    path: ['maxDelayMs'],
  });

export const kafkaConfigSchema = z
  .strictObject({
    kind: z.literal('kafka'),
    brokers: z
      .array(brokerAddress)
      .min(1, 'list at least one broker')
      .describe(
        'Seed brokers as host:port. One reachable seed is enough: the cluster metadata names the others ' +
          '(their advertised.listeners must be reachable from the gateway). Required.',
      ),
    clientId: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-"')
      .default('pubgate')
      .describe(
        'Client id sent to the brokers; shows up in broker logs, quotas and metrics. Default: pubgate.',
      ),
    acks: z
      .literal('all', { error: 'only "all" is supported: the gateway confirms only durable writes' })
      .default('all')
      .describe(
        'Acknowledgements required for a write. Only "all" is accepted: the gateway answers 201 only for a ' +
          'durable write, and acks=1 or 0 would confirm messages a leader crash can still lose. Pair it with ' +
          "the topic's min.insync.replicas >= 2 and unclean.leader.election.enable=false. Default: all.",
      ),
    idempotent: z
      .boolean()
      .default(true)
      .describe(
        "Use Kafka's idempotent producer (producer id + per-partition sequence numbers): the broker drops the " +
          "duplicates kafkajs's own retries would otherwise write. Declared as capabilities.nativeIdempotence. " +
          'kafkajs turns it off by default; so should you only for a broker that refuses InitProducerId ' +
          '(e.g. missing IdempotentWrite ACL on old clusters). Default: true.',
      ),
    compression: z
      .enum(['none', 'gzip'])
      .default('none')
      .describe(
        'Compression of each record batch. kafkajs ships only GZIP in its core (snappy, lz4 and zstd need ' +
          'extra codec packages this project does not install), so those are not offered. gzip costs CPU on ' +
          "the gateway (zlib's thread pool) and helps only with large, repetitive payloads. Default: none.",
      ),
    lingerMs: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(1)
      .describe(
        'How long the first message of an idle adapter waits for others to share its produce request. ' +
          'Concurrent publish() calls are coalesced into one producer.sendBatch; while one is in flight the ' +
          'next ones accumulate anyway, so under load batches grow without waiting. 0 = flush on the next ' +
          'event-loop turn (still coalesces calls made in the same turn). Default: 1.',
      ),
    batchMaxMessages: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(500)
      .describe(
        'Most messages in one produce request (one sendBatch); reaching it flushes at once. A single ' +
          'publish() call larger than this is spread over several requests, in order. Default: 500.',
      ),
    batchMaxBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * MiB)
      .optional()
      .describe(
        'Most bytes (approximate message sizes summed) in one produce request. At most maxMessageBytes: ' +
          "the broker's message.max.bytes applies to a whole record batch, and a request's messages for one " +
          'partition form one batch. Default: maxMessageBytes.',
      ),
    maxQueuedMessages: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe(
        'Most messages waiting in memory for a produce request. Past it publish() answers ADP_ERR_BACKPRESSURE ' +
          '(retriable, nothing sent) instead of growing the queue. Default: 10000.',
      ),
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * MiB)
      .default(DEFAULT_MAX_MESSAGE_BYTES)
      .describe(
        'Largest message (payload + key + headers, approximately) accepted; larger ones fail with ' +
          "ADP_ERR_TOO_LARGE before anything is sent. Keep it at or below the broker's message.max.bytes and " +
          "the topic's max.message.bytes (both 1048588 by default). Default: 1048576 (1 MiB).",
      ),
    connectionTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(3000)
      .describe(
        'Longest wait for the TCP (and TLS) connect to one broker, and for its first ApiVersions answer. ' +
          "kafkajs's own default of 1000 is tight for TLS over a WAN. Default: 3000.",
      ),
    requestTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(300_000)
      .default(5000)
      .describe(
        'Longest wait for the answer to one request (a produce request waits for all in-sync replicas). ' +
          'Also sent as the broker-side ack timeout of each produce request. A request timing out is ' +
          'ambiguous (the broker may have written it) and is retried by kafkajs with the same sequence numbers. ' +
          'Default: 5000.',
      ),
    deliveryTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(8000)
      .describe(
        "Upper bound of one produce request with all of kafkajs's retries, and of one connect attempt. Past it " +
          'the messages fail with ADP_ERR_TIMEOUT (ambiguous), the producer is replaced and the adapter ' +
          "reconnects in the background (kafkajs cannot cancel a send). The caller's AbortSignal can end the " +
          'wait sooner. At least requestTimeoutMs. Default: 8000.',
      ),
    healthCheckTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(2000)
      .describe(
        'Longest wait for the cluster metadata request health() makes. Answers are cached for 1 s so /readyz ' +
          'polling stays cheap. Default: 2000.',
      ),
    allowAutoTopicCreation: z
      .boolean()
      .default(true)
      .describe(
        'Let a publish to a topic that does not exist create it (kafkajs asks for it in metadata requests; the ' +
          "broker's auto.create.topics.enable must also be true). Convenient in development and with templated " +
          "destinations; the topic then gets the broker's num.partitions and default.replication.factor (1 and 1 " +
          'by default: no replica, so not durable). In production set it to false and create topics with the ' +
          'replication you need: a publish to a missing topic then fails with ADP_ERR_NO_DESTINATION (404 GW_ERR_NO_DESTINATION). Default: true.',
      ),
    ssl: z
      .boolean()
      .default(false)
      .describe(
        'Connect with TLS, verifying the brokers against the system CA store (Node: NODE_EXTRA_CA_CERTS adds ' +
          'a private CA). Default: false.',
      ),
    sasl: saslSchema
      .optional()
      .describe('SASL authentication: { mechanism, username, password }. Default: none (no authentication).'),
    retry: retrySchema
      .default({ retries: 3, initialRetryTimeMs: 100, maxRetryTimeMs: 1000 })
      .describe(
        "kafkajs's own retries of one request. Default: { retries: 3, initialRetryTimeMs: 100, maxRetryTimeMs: 1000 }.",
      ),
    reconnect: reconnectSchema
      .default({ initialDelayMs: 250, maxDelayMs: 5000 })
      .describe(
        'Background reconnection once Kafka is unreachable; publishes fail fast with ADP_ERR_UNAVAILABLE ' +
          'meanwhile. Retried until close(). Default: { initialDelayMs: 250, maxDelayMs: 5000 }.',
      ),
    clientLogLevel: z
      .enum(['nothing', 'error', 'warn', 'info', 'debug'])
      .default('info')
      .describe(
        "Most verbose kafkajs log level passed on to the gateway's logger (kafkajs builds every debug line, " +
          'so debug costs CPU even when the logger drops it). kafkajs errors are logged as warn: kafkajs logs ' +
          'every failed attempt as an error even when its retry succeeds; the adapter logs what failed for good. ' +
          'Default: info.',
      ),
  })
  .refine((c) => c.batchMaxBytes === undefined || c.batchMaxBytes <= c.maxMessageBytes, {
    message:
      "batchMaxBytes must not exceed maxMessageBytes (Kafka's size limit applies to a whole record batch)",
    path: ['batchMaxBytes'],
  })
  .refine((c) => c.deliveryTimeoutMs >= c.requestTimeoutMs, {
    message: 'deliveryTimeoutMs must be at least requestTimeoutMs',
    path: ['deliveryTimeoutMs'],
  });

export type KafkaConfig = z.infer<typeof kafkaConfigSchema>;
/** The config as a caller may write it (defaults not yet applied). */
export type KafkaConfigInput = z.input<typeof kafkaConfigSchema>;
