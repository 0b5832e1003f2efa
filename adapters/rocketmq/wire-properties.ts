/**
 * Wire headers <-> RocketMQ user properties.
 *
 * Every header of toWireHeaders() becomes a user property of the same name, so any RocketMQ consumer
 * sees `pubgate-id`, `content-type`, `traceparent` etc. as plain properties. Two kinds of header
 * cannot travel as they are:
 * - names RocketMQ uses itself (MessageConst: KEYS, TAGS, UNIQ_KEY, __SHARDINGKEY, ...): the proxy
 *   refuses some (ILLEGAL_MESSAGE_PROPERTY_KEY) and silently overwrites others;
 * - names or values with control characters, which the proxy refuses (they would corrupt RocketMQ's
 *   property encoding, which separates entries with \u0001 and \u0002).
 * Those are escaped as `pubgate-esc-<base64url(name)>` = base64url(value). The gateway forbids user
 * headers starting with `pubgate-`, so the escaped names cannot collide with a real header.
 *
 * fromRocketMqProperties() undoes this and drops RocketMQ's own properties, so its result can go
 * straight into fromWireHeaders().
 */
import { toWireHeaders, type MessageEnvelope } from '../core/index.js';

export const ESCAPED_PROPERTY_PREFIX = 'pubgate-esc-';

/** Property names of org.apache.rocketmq.common.message.MessageConst (RocketMQ 5.3). Case-sensitive. */
const SYSTEM_PROPERTY_NAMES = new Set([
  'KEYS',
  'TAGS',
  'WAIT',
  'DELAY',
  'RETRY_TOPIC',
  'REAL_TOPIC',
  'REAL_QID',
  'TRAN_MSG',
  'PGROUP',
  'MIN_OFFSET',
  'MAX_OFFSET',
  'BUYER_ID',
  'ORIGIN_MESSAGE_ID',
  'TRANSFER_FLAG',
  'CORRECTION_FLAG',
  'MQ2_FLAG',
  'RECONSUME_TIME',
  'MSG_REGION',
  'TRACE_ON',
  'UNIQ_KEY',
  'EXTEND_UNIQ_INFO',
  'MAX_RECONSUME_TIMES',
  'CONSUME_START_TIME',
  'INNER_NUM',
  'INNER_BASE',
  'DUP_INFO',
  'CHECK_IMMUNITY_TIME_IN_SECONDS',
  'TRAN_PREPARED_QUEUE_OFFSET',
  'TRANSACTION_CHECK_TIMES',
  'INSTANCE_ID',
  'CORRELATION_ID',
  'REPLY_TO_CLIENT',
  'TTL',
  'ARRIVE_TIME',
  'PUSH_REPLY_TIME',
  'CLUSTER',
  'MSG_TYPE',
  'POP_CK',
  'POP_CK_OFFSET',
  '1ST_POP_TIME',
  'PROPERTY_FORWARD_QUEUE_ID',
  'REDIRECT',
  'INNER_MULTI_DISPATCH',
  'INNER_MULTI_QUEUE_OFFSET',
  'TRACE_CONTEXT',
  'TIMER_DELAY_SEC',
  'TIMER_DELIVER_MS',
  'BORN_TIMESTAMP',
  'TIMER_ENQUEUE_MS',
  'TIMER_DEQUEUE_MS',
  'TIMER_ROLL_TIMES',
  'TIMER_OUT_MS',
  'TIMER_DEL_UNIQKEY',
  'TIMER_DELAY_LEVEL',
]);

/** True for a property RocketMQ sets or interprets itself (`__SHARDINGKEY`, `__transactionId__`, `__RMQ.TRANSIENT.*` included). */
export function isSystemPropertyName(name: string): boolean {
  return SYSTEM_PROPERTY_NAMES.has(name) || name.startsWith('__');
}

const CONTROL_CHARACTER = /\p{Cc}/u;

function travelsAsIs(name: string, value: string): boolean {
  return (
    name.length > 0 &&
    !isSystemPropertyName(name) &&
    !name.startsWith(ESCAPED_PROPERTY_PREFIX) &&
    !CONTROL_CHARACTER.test(name) &&
    !CONTROL_CHARACTER.test(value)
  );
}

/** The user properties to send for an envelope: toWireHeaders(), escaped where RocketMQ needs it. */
export function toRocketMqProperties(envelope: MessageEnvelope): Map<string, string> {
  const properties = new Map<string, string>();
  for (const [name, value] of Object.entries(toWireHeaders(envelope))) {
    if (travelsAsIs(name, value)) properties.set(name, value);
    else properties.set(ESCAPED_PROPERTY_PREFIX + encode(name), encode(value));
  }
  return properties;
}

/**
 * The wire headers of a received message: RocketMQ's own properties dropped, escaped ones decoded.
 * Feed the result to fromWireHeaders().
 */
export function fromRocketMqProperties(
  properties: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
): Record<string, string> {
  const entries = properties instanceof Map ? [...properties.entries()] : Object.entries(properties);
  const headers: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (isSystemPropertyName(name)) continue;
    if (name.startsWith(ESCAPED_PROPERTY_PREFIX)) {
      headers[decode(name.slice(ESCAPED_PROPERTY_PREFIX.length))] = decode(value);
    } else {
      headers[name] = value;
    }
  }
  return headers;
}

function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function decode(text: string): string {
  return Buffer.from(text, 'base64url').toString('utf8');
}
