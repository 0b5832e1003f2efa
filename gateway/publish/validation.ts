/**
 * Input checks shared by the single and batch publish paths. Each returns a GatewayError (never
 * throws for bad input), so the batch path can collect every problem before publishing anything.
 */
import { isWireHeaderName } from '../../adapters/core/index.js';
import type { LimitsConfig } from '../config/schema.js';
import { GatewayError } from '../errors/registry.js';

const TOPIC = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Topics are dot-separated segments of [A-Za-z0-9_-]; no empty segment, no `..`, no slash. */
export function checkTopic(topic: string, limits: LimitsConfig): GatewayError | undefined {
  if (topic.length === 0) return new GatewayError('GW_ERR_INVALID_TOPIC', 'the topic name is empty');
  if (topic.length > limits.maxTopicLength) {
    return new GatewayError(
      'GW_ERR_INVALID_TOPIC',
      `the topic name is ${topic.length} characters; at most ${limits.maxTopicLength} are allowed`,
    );
  }
  if (!TOPIC.test(topic)) {
    return new GatewayError(
      'GW_ERR_INVALID_TOPIC',
      'a topic is dot-separated segments of letters, digits, "_" and "-" (no empty segment, "/" or "..")',
    );
  }
  return undefined;
}

const MESSAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function checkMessageId(id: string): GatewayError | undefined {
  return MESSAGE_ID.test(id)
    ? undefined
    : new GatewayError(
        'GW_ERR_INVALID_MESSAGE_ID',
        'a message id is 1-128 characters of letters, digits, ".", "_", ":" and "-", starting with a letter or digit',
      );
}

// Control characters (CR, LF, NUL, …) would let a value forge headers on the broker side.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export function checkMessageKey(key: string, limits: LimitsConfig): GatewayError | undefined {
  if (key.length === 0 || key.length > limits.maxKeyLength || CONTROL.test(key)) {
    return new GatewayError(
      'GW_ERR_INVALID_MESSAGE_KEY',
      `a message key is 1-${limits.maxKeyLength} characters without control characters`,
    );
  }
  return undefined;
}

/**
 * Header names no message may carry, on any broker: a route can move to another broker by config,
 * so a name reserved by one broker is refused everywhere. AMQP's validated `userId` and routing
 * headers `CC`/`BCC`, RabbitMQ's `x-*` broker headers, RocketMQ's system properties, and our own.
 */
const RESERVED_HEADERS = new Set(
  [
    'userid',
    'user-id',
    'cc',
    'bcc',
    'x-delay',
    'x-death',
    'x-first-death-exchange',
    'x-first-death-queue',
    'x-first-death-reason',
    'x-match',
    'x-message-ttl',
    'x-deduplication-header',
    'keys',
    'tags',
    'delay',
    'wait',
    'uniq_key',
    'max_offset',
    'min_offset',
    'transaction_prepared',
    'msg_region',
    'trace_on',
    '__startdelivertime',
    'content-type',
    'content-length',
  ].map((name) => name.toLowerCase()),
);

const HEADER_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** Validates user headers and returns them with lower-case names. */
export function checkHeaders(
  headers: Readonly<Record<string, unknown>>,
  limits: LimitsConfig,
): { headers: Record<string, string> } | { error: GatewayError } {
  const entries = Object.entries(headers);
  if (entries.length > limits.maxHeaders) {
    return fail(`a message may carry at most ${limits.maxHeaders} headers; got ${entries.length}`);
  }
  const result: Record<string, string> = {};
  for (const [rawName, value] of entries) {
    const name = rawName.toLowerCase();
    if (name.length > limits.maxHeaderNameLength || !HEADER_NAME.test(name)) {
      return fail(
        `header name "${truncate(rawName)}" must be 1-${limits.maxHeaderNameLength} of [a-z0-9._-]`,
      );
    }
    if (RESERVED_HEADERS.has(name) || isWireHeaderName(name) || name.startsWith('rmq_sys_')) {
      return fail(`header "${name}" is reserved by the gateway or a broker`);
    }
    if (typeof value !== 'string') return fail(`header "${name}" must have a string value`);
    if (value.length > limits.maxHeaderValueLength) {
      return fail(`header "${name}" is longer than ${limits.maxHeaderValueLength} characters`);
    }
    if (CONTROL.test(value)) return fail(`header "${name}" contains a control character (CR, LF, NUL, …)`);
    if (name in result) return fail(`header "${name}" is given twice`);
    result[name] = value;
  }
  return { headers: result };
}

function fail(detail: string): { error: GatewayError } {
  return { error: new GatewayError('GW_ERR_INVALID_HEADER', detail) };
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
