/**
 * Input checks shared by the single and batch publish paths. Each returns a GatewayError (never
 * throws for bad input), so the batch path can collect every problem before publishing anything.
 */
import { isWireHeaderName } from '../../adapters/core/index.js';
import { BROKER_FACTS } from '../broker-facts.js';
import type { LimitsConfig } from '../config/schema.js';
import { GatewayError } from '../errors/registry.js';
import { isWellFormed } from './header-values.js';

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
  // An unpaired surrogate (a JSON "\ud800") has no UTF-8 form: a broker would store U+FFFD instead.
  if (!isWellFormed(key)) {
    return new GatewayError(
      'GW_ERR_INVALID_MESSAGE_KEY',
      'a message key must be well-formed Unicode (it contains an unpaired surrogate)',
    );
  }
  return undefined;
}

/**
 * Header names the gateway itself writes or owns: its wire headers (`pubgate-*`, see
 * adapters/core/wire-headers.ts) and the HTTP framing of the message.
 */
function reservedByGateway(name: string): boolean {
  return name === 'content-type' || name === 'content-length' || isWireHeaderName(name);
}

const HEADER_NAME = /^[a-z0-9][a-z0-9._-]*$/;

export type HeaderCheck = (
  headers: Readonly<Record<string, unknown>>,
  limits: LimitsConfig,
) => { headers: Record<string, string> } | { error: GatewayError };

/**
 * The header check for a set of brokers: `reservedHeader` says why a (lower-case) name is reserved
 * by a broker, or undefined. Names the gateway owns are refused whatever the brokers.
 */
export function createHeaderCheck(reservedHeader: (name: string) => string | undefined): HeaderCheck {
  return (headers, limits) => checkHeadersWith(headers, limits, reservedHeader);
}

/**
 * Validates user headers and returns them with lower-case names. Names reserved by any registered
 * broker are refused on every route: a route can move to another broker by config, so a name
 * reserved by one broker is refused everywhere (see gateway/broker-facts.ts).
 */
export const checkHeaders: HeaderCheck = createHeaderCheck(BROKER_FACTS.reservedHeader);

/**
 * The names come from the request: they are collected in a Map (an object would drop `__proto__`
 * and already "have" `constructor`) and returned through Object.fromEntries, which defines each
 * as an own property.
 */
function checkHeadersWith(
  headers: Readonly<Record<string, unknown>>,
  limits: LimitsConfig,
  reservedHeader: (name: string) => string | undefined,
): { headers: Record<string, string> } | { error: GatewayError } {
  const entries = Object.entries(headers);
  if (entries.length > limits.maxHeaders) {
    return fail(`a message may carry at most ${limits.maxHeaders} headers; got ${entries.length}`);
  }
  const result = new Map<string, string>();
  for (const [rawName, value] of entries) {
    const name = rawName.toLowerCase();
    if (name.length > limits.maxHeaderNameLength || !HEADER_NAME.test(name)) {
      return fail(
        `header name "${truncate(rawName)}" must be 1-${limits.maxHeaderNameLength} of [a-z0-9._-]`,
      );
    }
    if (reservedByGateway(name)) return fail(`header "${name}" is reserved by the gateway`);
    const reserved = reservedHeader(name);
    if (reserved !== undefined) return fail(`header "${name}" is reserved by a broker: ${reserved}`);
    if (typeof value !== 'string') return fail(`header "${name}" must have a string value`);
    if (value.length > limits.maxHeaderValueLength) {
      return fail(`header "${name}" is longer than ${limits.maxHeaderValueLength} characters`);
    }
    if (CONTROL.test(value)) return fail(`header "${name}" contains a control character (CR, LF, NUL, …)`);
    if (!isWellFormed(value)) {
      return fail(`header "${name}" must be well-formed Unicode (it contains an unpaired surrogate)`);
    }
    if (result.has(name)) return fail(`header "${name}" is given twice`);
    result.set(name, value);
  }
  return { headers: Object.fromEntries(result) };
}

function fail(detail: string): { error: GatewayError } {
  return { error: new GatewayError('GW_ERR_INVALID_HEADER', detail) };
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
