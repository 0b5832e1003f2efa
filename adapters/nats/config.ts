/**
 * Configuration of the NATS JetStream adapter. Every option is documented here with its default;
 * the folder's README lists the same options. Unknown keys are rejected (strict object), and values
 * the adapter cannot use are rejected at start rather than silently ignored.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

/**
 * 1 MiB: nats-server's default `max_payload`. The server's limit covers the payload and the
 * headers; a bigger message is refused by the client before it is sent. The adapter also checks
 * the limit the connected server announces, whichever is lower.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = MiB;

/** The server's default, and the upper bound nats-server accepts for `max_payload`. */
export const NATS_MAX_PAYLOAD_LIMIT = 64 * MiB;

/** Longest destination (before the subject prefix) the adapter accepts. */
export const MAX_DESTINATION_LENGTH = 255;

export const DEFAULT_SERVER = 'nats://127.0.0.1:4222';

const natsUrl = z
  .string()
  .min(1)
  .refine(
    (value) => {
      try {
        const url = new URL(value);
        return ['nats:', 'tls:', 'ws:', 'wss:'].includes(url.protocol) && url.hostname.length > 0;
      } catch {
        return false;
      }
    },
    // Never echo the value: it may carry a user and password.
    { message: 'must be a nats:// or tls:// URL with a host, e.g. nats://127.0.0.1:4222' },
  );

/**
 * A subject prefix: empty, or dot-separated tokens ending with a dot (`pubgate.`), without
 * wildcards or whitespace, so prefix + destination is again a valid subject.
 */
const SUBJECT_PREFIX = /^(?:[^\s.*>]+\.)*$/u;

/** A stream name prefix: the characters a JetStream stream name may hold. */
const STREAM_PREFIX = /^[A-Za-z0-9_-]{1,32}$/;

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

const provisionSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(false)
    .describe(
      'Create a stream for a subject no stream binds, then publish. Off: such a publish fails with ' +
        'ADP_ERR_NO_DESTINATION (HTTP 404 GW_ERR_NO_DESTINATION) and nothing is created. Default: false.',
    ),
  streamPrefix: z
    .string()
    .regex(STREAM_PREFIX, 'must be 1-32 of [A-Za-z0-9_-]')
    .default('PUBGATE_')
    .describe(
      'Name of a created stream: this prefix, then the subject with "." replaced by "_" (a subject with ' +
        'other characters, or a long one, gets a hash suffix so names never collide). Default: PUBGATE_.',
    ),
  subjects: z
    .enum(['exact', 'tree'])
    .default('exact')
    .describe(
      'Subjects a created stream binds. exact: only the subject itself. tree: the subject and every ' +
        'subject below it (<subject>.>). Default: exact.',
    ),
  replicas: z
    .number()
    .int()
    .min(1)
    .max(5)
    .default(1)
    .describe('Replicas of a created stream (num_replicas; up to the cluster size). Default: 1.'),
  maxAgeMs: z
    .number()
    .int()
    .min(0)
    .max(10 * 365 * 24 * 3600_000)
    .default(7 * 24 * 3600_000)
    .describe(
      'How long a created stream keeps a message (max_age); 0 keeps messages until other limits ' +
        'remove them. Default: 604800000 (7 days).',
    ),
  duplicateWindowMs: z
    .number()
    .int()
    .min(1000)
    .max(24 * 3600_000)
    .default(120_000)
    .describe(
      'Duplicate window of a created stream: a message with the same Nats-Msg-Id (the envelope id) ' +
        'within it is stored once. At most maxAgeMs when that is set. Default: 120000 (2 minutes).',
    ),
});

export const natsConfigSchema = z
  .strictObject({
    kind: z.literal('nats'),
    servers: z
      .union([natsUrl, z.array(natsUrl).min(1).max(32)])
      .default(DEFAULT_SERVER)
      .describe(
        'Server URL, or a list of them (a cluster): nats://host:4222, or tls://host:4222 for TLS. ' +
          'Credentials go in user/pass or token, not in the URL. Default: nats://127.0.0.1:4222.',
      ),
    user: z
      .string()
      .min(1)
      .optional()
      .describe('User name for user/password authentication; requires pass. Default: none.'),
    pass: z
      .string()
      .min(1)
      .optional()
      .describe('Password for user; use ${ENV} interpolation. It is never logged. Default: none.'),
    token: z
      .string()
      .min(1)
      .optional()
      .describe('Token authentication (instead of user/pass); use ${ENV} interpolation. Default: none.'),
    subjectPrefix: z
      .string()
      .max(128)
      .regex(
        SUBJECT_PREFIX,
        'must be empty or dot-separated tokens ending with ".", without * > or whitespace',
      )
      .default('')
      .describe(
        "Put before the route's destination to form the subject: subject = subjectPrefix + destination " +
          '(e.g. "pubgate." sends topic orders.created to pubgate.orders.created). Default: "" (the destination is the subject).',
      ),
    publishTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(10_000)
      .describe(
        "Longest wait for a message's PubAck, counted from publish(). Past it the message fails with " +
          'ADP_ERR_TIMEOUT, ambiguous (the stream may have stored it). Default: 10000.',
      ),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(10_000)
      .describe('Longest wait for the TCP/TLS connect and NATS handshake of one attempt. Default: 10000.'),
    reconnect: reconnectSchema
      .default({ initialDelayMs: 500, maxDelayMs: 30_000 })
      .describe(
        'Reconnection after the connection is lost (and retries of the first connect): exponential ' +
          'backoff with full jitter, retried until close(). Default: { initialDelayMs: 500, maxDelayMs: 30000 }.',
      ),
    pingIntervalMs: z
      .number()
      .int()
      .min(1000)
      .max(600_000)
      .default(10_000)
      .describe(
        'Client PING interval; after 2 unanswered PINGs the connection counts as dead and the adapter ' +
          'reconnects. Default: 10000.',
      ),
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .max(NATS_MAX_PAYLOAD_LIMIT)
      .default(DEFAULT_MAX_MESSAGE_BYTES)
      .describe(
        'Largest message (payload + headers, approximately) accepted; larger ones fail with ADP_ERR_TOO_LARGE ' +
          "before anything is sent. The server's max_payload (announced on connect) is checked as well. " +
          'Default: 1048576 (1 MiB, the server default).',
      ),
    provision: provisionSchema
      .default({
        enabled: false,
        streamPrefix: 'PUBGATE_',
        subjects: 'exact',
        replicas: 1,
        maxAgeMs: 7 * 24 * 3600_000,
        duplicateWindowMs: 120_000,
      })
      .describe(
        'What to do about a subject no stream binds: create a stream (enabled) or refuse the publish. ' +
          'Default: { enabled: false } (refuse).',
      ),
    connectionName: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe('Client name shown in the server monitoring pages. Default: pubgate:<target name>.'),
  })
  .refine((c) => (c.user === undefined) === (c.pass === undefined), {
    message: 'user and pass go together',
    path: ['pass'],
  })
  .refine((c) => c.token === undefined || c.user === undefined, {
    message: 'use either token or user/pass, not both',
    path: ['token'],
  })
  .refine((c) => c.provision.maxAgeMs === 0 || c.provision.duplicateWindowMs <= c.provision.maxAgeMs, {
    message: 'duplicateWindowMs must not exceed maxAgeMs',
    path: ['provision', 'duplicateWindowMs'],
  });

export type NatsConfig = z.infer<typeof natsConfigSchema>;

/** The configured servers as a list. */
export function serverList(config: Pick<NatsConfig, 'servers'>): string[] {
  return typeof config.servers === 'string' ? [config.servers] : [...config.servers];
}
