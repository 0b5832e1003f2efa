/**
 * Configuration of the RabbitMQ adapter. Every option is documented here with its default; the
 * folder's README lists the same options. Unknown keys are rejected (strict object), and values the
 * adapter cannot use are rejected at start rather than silently ignored.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

/**
 * 16 MiB: RabbitMQ 4.x's default `max_message_size`. RabbitMQ 3.8–3.13 default to 128 MiB, so 16 MiB
 * is accepted by every supported server with default settings. A message over the server's limit
 * closes the whole channel (every unconfirmed message then becomes ambiguous), so never configure
 * this above the server's `max_message_size`.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * MiB;

/** AMQP short strings (exchange names, routing keys, property values) are at most 255 bytes. */
export const AMQP_SHORTSTR_MAX_BYTES = 255;

const amqpUrl = z
  .string()
  .min(1)
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'amqp:' || url.protocol === 'amqps:') && url.hostname.length > 0;
      } catch {
        return false;
      }
    },
    // Never echo the value: it usually carries the password.
    { message: 'must be an amqp:// or amqps:// URL with a host, e.g. amqp://user:pass@host:5672/vhost' },
  )
  .refine(
    (value) => {
      try {
        return !new URL(value).searchParams.has('heartbeat');
      } catch {
        return true; // reported by the check above
      }
    },
    { message: 'set the heartbeat with heartbeatSeconds, not in the URL query' },
  );

const reconnectSchema = z
  .strictObject({
    initialDelayMs: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(500)
      .describe(
        'Upper bound of the first reconnect delay; attempt n waits random(0, min(maxDelayMs, initialDelayMs * 2^(n-1))) ms (full jitter). Default: 500.',
      ),
    maxDelayMs: z
      .number()
      .int()
      .min(1)
      .max(600_000)
      .default(30_000)
      .describe('Cap of the reconnect delay, however many attempts failed. Default: 30000.'),
  })
  .refine((r) => r.maxDelayMs >= r.initialDelayMs, {
    message: 'maxDelayMs must be at least initialDelayMs',
    path: ['maxDelayMs'],
  });

export const rabbitmqConfigSchema = z.strictObject({
  kind: z.literal('rabbitmq'),
  url: amqpUrl.describe(
    'Broker URL, amqp://user:password@host:5672/vhost or amqps://... (TLS). Percent-encode special characters in ' +
      'the user, password and vhost (the default vhost "/" is the empty path or %2F). Use ${ENV} interpolation ' +
      'for the password; it is never logged. Required.',
  ),
  exchange: z
    .string()
    .min(1)
    .max(AMQP_SHORTSTR_MAX_BYTES)
    .refine((name) => !name.startsWith('amq.'), {
      message: 'the amq. prefix is reserved by RabbitMQ; name your own exchange',
    })
    .default('pubgate')
    .describe(
      "Exchange every message is published to; the routing key is the route's destination. Names starting " +
        'with "amq." are reserved by RabbitMQ and refused. Default: pubgate.',
    ),
  exchangeType: z
    .enum(['direct', 'topic', 'fanout'])
    .default('topic')
    .describe(
      'Type used when declaring the exchange (declareExchange). topic: queues bind with patterns such as ' +
        'orders.#; direct: exact routing keys; fanout: every bound queue gets every message. Default: topic.',
    ),
  declareExchange: z
    .boolean()
    .default(true)
    .describe(
      'Declare the exchange (durable, not auto-deleted) on every (re)connect. If false, the exchange must ' +
        'already exist: its existence is checked (passive declare) and the adapter stays unavailable until it ' +
        'does. An existing exchange of another type or durability is a configuration error. Default: true.',
    ),
  mandatory: z
    .boolean()
    .default(true)
    .describe(
      'Publish with the mandatory flag, so a message no queue is bound to receive comes back (basic.return) ' +
        'and fails with ADP_ERR_UNROUTABLE instead of being confirmed and dropped. Turning this off means ' +
        'a confirm no longer proves any queue holds the message. Default: true.',
    ),
  confirmTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(10_000)
    .describe(
      "Longest wait for a message's publisher confirm, counted from publish(). Past it the message fails with " +
        'ADP_ERR_TIMEOUT, ambiguous if it was already written (the broker may still have it). Default: 10000.',
    ),
  maxInFlight: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .describe(
      'Most messages written and not yet confirmed at once on the channel; further publishes queue (in order) ' +
        "until confirms arrive, bounded by confirmTimeoutMs and the caller's signal. Default: 1000.",
    ),
  connectTimeoutMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(10_000)
    .describe(
      'Longest wait for the TCP/TLS connect and AMQP handshake of one connection attempt. Default: 10000.',
    ),
  reconnect: reconnectSchema
    .default({ initialDelayMs: 500, maxDelayMs: 30_000 })
    .describe(
      'Background reconnection after the connection or channel is lost: exponential backoff with full jitter, ' +
        'retried until close(). Default: { initialDelayMs: 500, maxDelayMs: 30000 }.',
    ),
  heartbeatSeconds: z
    .number()
    .int()
    .min(0)
    .max(600)
    .default(10)
    .describe(
      'AMQP heartbeat interval requested from the server (the lower of both sides wins); a peer silent for ' +
        'about two intervals is declared dead and the adapter reconnects. 0 disables heartbeats (not ' +
        'recommended: a silently dead connection is then only noticed by TCP). Default: 10.',
    ),
  maxMessageBytes: z
    .number()
    .int()
    .min(1024)
    .max(512 * MiB)
    .default(DEFAULT_MAX_MESSAGE_BYTES)
    .describe(
      'Largest message (payload + headers, approximately) accepted; larger ones fail with ADP_ERR_TOO_LARGE ' +
        "before anything is sent. Keep it at or below the server's max_message_size (RabbitMQ 4.x default " +
        '16 MiB, 3.8-3.13 default 128 MiB): an oversize message closes the channel. Default: 16777216 (16 MiB).',
    ),
  connectionName: z
    .string()
    .min(1)
    .max(AMQP_SHORTSTR_MAX_BYTES)
    .optional()
    .describe(
      'Connection name shown in the RabbitMQ management UI and rabbitmqctl list_connections. ' +
        'Default: pubgate:<target name>.',
    ),
});

export type RabbitMqConfig = z.infer<typeof rabbitmqConfigSchema>;
