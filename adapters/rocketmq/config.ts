/**
 * Configuration of a RocketMQ broker target. Every option is documented here with its default; the
 * folder's README.md lists the same options for operators. Unknown keys are rejected.
 *
 * The adapter speaks gRPC to a RocketMQ 5 **proxy** (not to the NameServer or a broker) through
 * rocketmq-client-nodejs.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

/** RocketMQ's own limit on topic names (TopicValidator.TOPIC_MAX_LENGTH). */
export const MAX_TOPIC_LENGTH = 127;

/**
 * RocketMQ accepts `[%|a-zA-Z0-9_-]` in topic names, but `%` separates namespaces and marks retry and
 * dead-letter topics (`%RETRY%`, `%DLQ%`) and `|` separates tags in filter expressions, so this
 * adapter only ever produces topics from the safe subset below.
 */
export const SAFE_TOPIC_NAME = /^[A-Za-z0-9_-]+$/;

/** One `host:port` (or `host`) of the proxy; several are separated by `;`, as the client expects. */
const ENDPOINT = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

const credentialsSchema = z.strictObject({
  accessKey: z
    .string()
    .min(1)
    .describe('Access key of a RocketMQ ACL user. Required when credentials are given.'),
  secretKey: z
    .string()
    .min(1)
    .describe('Secret key of that user; requests are signed with it (HMAC-SHA1). Use ${ENV} interpolation.'),
  securityToken: z
    .string()
    .min(1)
    .optional()
    .describe('Session token for temporary credentials (x-mq-session-token). Default: none.'),
});

export const rocketMqConfigSchema = z
  .strictObject({
    kind: z.literal('rocketmq'),
    endpoints: z
      .string()
      .min(1)
      .refine((value) => value.split(';').every((part) => ENDPOINT.test(part.trim())), {
        message: 'endpoints must be host:port of the RocketMQ proxy, several separated by ";"',
      })
      .describe(
        'gRPC address of the RocketMQ 5 proxy, e.g. "127.0.0.1:8081"; several as "host1:8081;host2:8081". Required.',
      ),
    routeEndpoints: z
      .enum(['advertised', 'configured'])
      .default('advertised')
      .describe(
        'Where sends go. "advertised": to the address each topic route names, as RocketMQ clients do (a proxy in local mode advertises its broker host and its own gRPC port). "configured": every call goes to `endpoints`, whatever the route says: for a proxy reached through a load balancer, port mapping, NAT or TCP proxy whose advertised address the gateway cannot reach. Default: advertised.',
      ),
    namespace: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'namespace: 1-64 characters of [A-Za-z0-9_-]')
      .optional()
      .describe('RocketMQ namespace the topics live in (sent as resource namespace). Default: none.'),
    credentials: credentialsSchema
      .optional()
      .describe('ACL credentials for the proxy. Default: none (anonymous, for a proxy without ACL).'),
    tls: z
      .boolean()
      .default(false)
      .describe(
        'Use TLS to the proxy, verified against the system CA store (the client offers no custom CA or client certificate). Default: false.',
      ),
    topic: z
      .string()
      .max(MAX_TOPIC_LENGTH)
      .regex(SAFE_TOPIC_NAME, 'topic: [A-Za-z0-9_-] only')
      .optional()
      .describe(
        'A fixed RocketMQ topic. When set, every message goes to it and the logical destination becomes the message tag. Default: none (the destination names the topic).',
      ),
    topicNameMapping: z
      .enum(['replace', 'strict'])
      .default('replace')
      .describe(
        'How a destination becomes a topic name when `topic` is not set. "replace": every character outside [A-Za-z0-9_-] becomes "_" (demo.orders -> demo_orders; note demo.orders and demo_orders then share a topic). "strict": such a destination is refused with ADP_ERR_INVALID_DESTINATION. Default: replace.',
      ),
    tag: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[^|\p{Cc}\s][^|\p{Cc}]*$/u, 'tag: no "|", no control characters, not starting with a space')
      .optional()
      .describe(
        'A fixed tag put on every message (wins over the destination-as-tag of `topic` mode). Default: none (no tag, or the destination when `topic` is set).',
      ),
    fifo: z
      .boolean()
      .default(false)
      .describe(
        'Send FIFO messages: messageGroup = the message key, so messages with the same key keep their order (the adapter sends them one after another; different keys go in parallel). Every topic must then be of type FIFO, and the adapter declares per-key ordering. Default: false (NORMAL messages, no ordering).',
      ),
    unkeyedMessageGroup: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^\p{Cc}]+$/u, 'unkeyedMessageGroup: no control characters')
      .optional()
      .describe(
        'With fifo: the message group for messages without a key. Default: none, each unkeyed message is its own group (its id), so unkeyed messages have no order among themselves and never wait for each other. Setting it puts all unkeyed messages in one ordered group, sent one at a time.',
      ),
    sendTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe(
        'Longest wait for the broker to confirm one message (route lookup, client attempts and SEND_OK). Past it the message fails with ADP_ERR_TIMEOUT (ambiguous). Default: 10000.',
      ),
    requestTimeoutMs: z
      .number()
      .int()
      .min(1000)
      .default(3_000)
      .describe(
        'Deadline of each gRPC call the client makes (send attempt, route query, heartbeat probe); the client refuses less than 1000. Default: 3000.',
      ),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(1)
      .describe(
        "Send attempts inside the client. The client retries at once without backoff, and a failure after several attempts cannot tell whether an earlier attempt was stored, so the default leaves retries to pubgate's reliability layer (backoff, jitter, same message id). Default: 1.",
      ),
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .max(128 * MiB)
      .default(4 * MiB)
      .describe(
        "Largest message (payload plus properties, approximately) sent; bigger ones fail with ADP_ERR_TOO_LARGE before the broker. Match the broker's and proxy's maxMessageSize. Default: 4194304 (4 MiB, RocketMQ's default).",
      ),
    reconnectInitialDelayMs: z
      .number()
      .int()
      .positive()
      .default(500)
      .describe(
        'First wait before reconnecting after the proxy was found unreachable; doubles per attempt. Default: 500.',
      ),
    reconnectMaxDelayMs: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe(
        'Longest wait between reconnect attempts (an attempt is one TCP connect and one heartbeat, so it can be short). Default: 5000.',
      ),
  })
  .superRefine((config, ctx) => {
    if (config.unkeyedMessageGroup !== undefined && !config.fifo) {
      ctx.addIssue({
        code: 'custom',
        path: ['unkeyedMessageGroup'],
        message: 'unkeyedMessageGroup only applies with fifo: true',
      });
    }
    if (config.reconnectMaxDelayMs < config.reconnectInitialDelayMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['reconnectMaxDelayMs'],
        message: 'reconnectMaxDelayMs must be at least reconnectInitialDelayMs',
      });
    }
  });

export type RocketMqConfig = z.infer<typeof rocketMqConfigSchema>;
