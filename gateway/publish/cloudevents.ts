/**
 * CloudEvents 1.0 on the publish endpoints: the HTTP protocol binding's three modes, read into
 * message parts (id, payload bytes, content type, attributes), and the structured JSON form for
 * routes that publish events structured.
 *
 * - Binary mode: any Content-Type; attributes in `ce-<name>` headers (percent-decoded, HTTP binding
 *   §3.1.3.2); the body is the data. A request is a binary-mode event when it has `ce-id` or
 *   `ce-specversion` (`ce-id` is what the CloudEvents SDKs detect binary mode by).
 * - Structured mode: `application/cloudevents+json`; one event object; `data` (its exact JSON text
 *   as the client wrote it) or `data_base64` (decoded) is the payload.
 * - Batched mode: `application/cloudevents-batch+json`; an array of structured events, one message
 *   each.
 *
 * Every event is validated the same way: `specversion` "1.0", non-empty `id`, `source` and `type`,
 * attribute names of lower-case letters and digits, values of the CloudEvents types. The event id
 * is the message id, so a retried event is deduplicated like a retried Message-Id.
 *
 * In an envelope an event is its payload, its content type (datacontenttype) and one header
 * `ce-<name>` per other attribute, holding the attribute's canonical string (never percent-encoded).
 * Each broker kind's protocol binding renames those on the wire (adapters/core/wire-headers.ts).
 */
import { isUtf8 } from 'node:buffer';
import { CLOUDEVENTS_HEADER_PREFIX } from '../../adapters/core/index.js';
import { GatewayError } from '../errors/registry.js';
import { isJsonMediaType, parseMediaType } from './content-type.js';
import { isWellFormed } from './header-values.js';
import { arrayElementSpans, objectMemberSpans, parseJsonBody, type ByteSpan } from './json.js';
import { checkMessageId } from './validation.js';

export const STRUCTURED_MEDIA_TYPE = 'application/cloudevents+json';
export const BATCH_MEDIA_TYPE = 'application/cloudevents-batch+json';
/** The Content-Type of an event published structured. */
// charset in lower case: the CloudEvents JS SDK looks this exact string up to parse the event.
export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
export const SPEC_VERSION = '1.0';

/** One event as the gateway publishes it. */
export interface CloudEventParts {
  /** The event id: the message id. */
  readonly id: string;
  /** Every attribute but datacontenttype, as canonical strings, in the order given. */
  readonly attributes: ReadonlyMap<string, string>;
  /** The data: the client's exact bytes (JSON text, decoded data_base64, or a string's UTF-8). */
  readonly payload: Uint8Array;
  /** datacontenttype (application/json when a structured event with data leaves it out). */
  readonly contentType: string;
  /** The parsed data when it is JSON (for the route's schema), else undefined. */
  readonly value?: unknown;
  /** Structured or batched input: the event object's JSON text exactly as the client wrote it. */
  readonly structured?: Uint8Array;
}

export type Result<T> = { readonly value: T } | { readonly error: GatewayError };

/** The CloudEvents event format a Content-Type names, or undefined (binary mode, or no event). */
export function cloudEventsFormat(contentType: string | undefined): 'structured' | 'batch' | undefined {
  if (contentType === undefined) return undefined;
  const lower = contentType.trimStart().toLowerCase();
  if (lower.startsWith('application/cloudevents-batch')) return 'batch';
  if (lower.startsWith('application/cloudevents')) return 'structured';
  return undefined;
}

function invalid(detail: string): GatewayError {
  return new GatewayError('GW_ERR_INVALID_CLOUDEVENT', detail);
}

const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
/** RFC 3339 date-time. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** The required and typed attributes every event must have, whatever its mode. */
function checkAttributes(attributes: ReadonlyMap<string, string>, where: string): GatewayError | undefined {
  const specversion = attributes.get('specversion');
  if (specversion === undefined) return invalid(`${where}: the specversion attribute is required`);
  if (specversion !== SPEC_VERSION) {
    return invalid(`${where}: specversion "${specversion}" is not supported; only "${SPEC_VERSION}" is`);
  }
  for (const name of ['id', 'source', 'type']) {
    const value = attributes.get(name);
    if (value === undefined || value === '') {
      return invalid(`${where}: the ${name} attribute is required and must be a non-empty string`);
    }
  }
  for (const name of ['subject', 'dataschema']) {
    if (attributes.get(name) === '') return invalid(`${where}: the ${name} attribute must not be empty`);
  }
  const time = attributes.get('time');
  if (time !== undefined && (!RFC3339.test(time) || Number.isNaN(Date.parse(time)))) {
    return invalid(`${where}: the time attribute must be an RFC 3339 timestamp`);
  }
  for (const [name, value] of attributes) {
    if (!ATTRIBUTE_NAME.test(name)) {
      return invalid(`${where}: attribute name "${name}" must be lower-case letters and digits only`);
    }
    if (!isWellFormed(value)) return invalid(`${where}: attribute ${name} is not well-formed Unicode`);
    // Attributes become message headers: no CR, LF, NUL or other control characters (decoded %0A too).
    if (CONTROL.test(value)) return invalid(`${where}: attribute ${name} contains a control character`);
  }
  const id = attributes.get('id')!;
  if (checkMessageId(id)) {
    return new GatewayError(
      'GW_ERR_INVALID_MESSAGE_ID',
      `${where}: the event id is the message id, which is 1-128 characters of letters, digits, ".", "_", ":" and "-", starting with a letter or digit`,
    );
  }
  return undefined;
}

// ------------------------------------------------------------------ binary mode

/**
 * The binary-mode event of a request: `headers` are the request headers copied onto the message
 * (ce-* among them, decoded as UTF-8), `contentType` its Content-Type (the datacontenttype).
 * Undefined when the request is not an event (neither ce-id nor ce-specversion); else the event's
 * attributes (percent-decoded) and id, or the 400 to answer.
 */
export function readBinaryEvent(
  headers: Readonly<Record<string, string>>,
  contentType: string,
): Result<{ id: string; attributes: ReadonlyMap<string, string>; contentType: string }> | undefined {
  const prefix = CLOUDEVENTS_HEADER_PREFIX;
  if (!Object.hasOwn(headers, `${prefix}id`) && !Object.hasOwn(headers, `${prefix}specversion`)) {
    return undefined;
  }
  if (Object.hasOwn(headers, `${prefix}datacontenttype`)) {
    return {
      error: invalid(
        'binary mode: the datacontenttype is the Content-Type header; a ce-datacontenttype header must not be sent',
      ),
    };
  }
  const attributes = new Map<string, string>();
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith(prefix)) continue;
    const value = percentDecode(raw);
    if (value === undefined) {
      return {
        error: invalid(
          `binary mode: header ${name} is not valid percent-encoded UTF-8 (each "%" starts a %XY escape)`,
        ),
      };
    }
    attributes.set(name.slice(prefix.length), value);
  }
  const bad = checkAttributes(attributes, 'binary mode');
  if (bad) return { error: bad };
  return { value: { id: attributes.get('id')!, attributes, contentType } };
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Percent-decodes a binary-mode header value (HTTP binding §3.1.3.2); undefined when invalid. */
export function percentDecode(value: string): string | undefined {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      const code = value.codePointAt(i)!;
      if (code > 0xffff) i++;
      bytes.push(...Buffer.from(String.fromCodePoint(code), 'utf8'));
    }
  }
  try {
    return STRICT_UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ structured and batched modes

/** The event of a structured-mode body (`application/cloudevents+json`). */
export function parseStructuredEvent(body: Uint8Array, maxJsonDepth: number): Result<CloudEventParts> {
  // The event object adds one level above its data.
  const parsed = parseJsonBody(body, maxJsonDepth + 1);
  if ('error' in parsed) return parsed;
  const start = firstByte(body);
  return eventOf(body, { start, end: lastByte(body) }, parsed.value, 'structured mode');
}

/**
 * The events of a batched-mode body (`application/cloudevents-batch+json`): one entry per event,
 * in order, each the event or its error. The whole body's error when it is not an array of 1 to
 * `maxEvents` events.
 */
export function parseEventBatch(
  body: Uint8Array,
  maxJsonDepth: number,
  maxEvents: number,
): Result<Result<CloudEventParts>[]> {
  const parsed = parseJsonBody(body, maxJsonDepth + 2);
  if ('error' in parsed) return parsed;
  if (!Array.isArray(parsed.value)) {
    return { error: invalid('batched mode: the body must be a JSON array of events') };
  }
  if (parsed.value.length === 0) return { error: invalid('batched mode: the batch holds no event') };
  if (parsed.value.length > maxEvents) {
    return { error: invalid(`batched mode: a batch holds at most ${maxEvents} events`) };
  }
  const spans = arrayElementSpans(body)!;
  const values = parsed.value as unknown[];
  return { value: values.map((value, i) => eventOf(body, spans[i]!, value, `event ${i}`)) };
}

function eventOf(body: Uint8Array, span: ByteSpan, value: unknown, where: string): Result<CloudEventParts> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: invalid(`${where}: an event is a JSON object`) };
  }
  const event = value as Record<string, unknown>;
  const attributes = new Map<string, string>();
  let datacontenttype: string | undefined;
  for (const [name, attribute] of Object.entries(event)) {
    if (name === 'data' || name === 'data_base64' || attribute === null) continue;
    let text: string;
    if (typeof attribute === 'string') text = attribute;
    else if (typeof attribute === 'boolean') text = String(attribute);
    else if (
      typeof attribute === 'number' &&
      Number.isInteger(attribute) &&
      attribute >= INT32_MIN &&
      attribute <= INT32_MAX
    ) {
      text = String(attribute);
    } else {
      return {
        error: invalid(
          `${where}: attribute ${name} must be a string, a boolean or a 32-bit integer (CloudEvents type system)`,
        ),
      };
    }
    for (const required of ['specversion', 'id', 'source', 'type', 'datacontenttype']) {
      if (name === required && typeof attribute !== 'string') {
        return { error: invalid(`${where}: the ${name} attribute must be a string`) };
      }
    }
    if (name === 'datacontenttype') datacontenttype = text;
    else attributes.set(name, text);
  }
  const bad = checkAttributes(attributes, where);
  if (bad) return { error: bad };
  if (datacontenttype !== undefined && parseMediaType(datacontenttype) === undefined) {
    return { error: invalid(`${where}: datacontenttype "${datacontenttype}" is not a media type`) };
  }
  const data = event.data;
  const base64 = event.data_base64;
  const structured = Buffer.from(body.subarray(span.start, span.end));
  const id = attributes.get('id')!;
  if (data !== undefined && data !== null && base64 !== undefined && base64 !== null) {
    return { error: invalid(`${where}: data and data_base64 are mutually exclusive`) };
  }
  if (base64 !== undefined && base64 !== null) {
    if (typeof base64 !== 'string' || base64.length % 4 !== 0 || !BASE64.test(base64)) {
      return { error: invalid(`${where}: data_base64 must be a standard base64 string`) };
    }
    const contentType = datacontenttype ?? 'application/octet-stream';
    return { value: { id, attributes, payload: Buffer.from(base64, 'base64'), contentType, structured } };
  }
  if (data === undefined || data === null) {
    const contentType = datacontenttype ?? 'application/json';
    return { value: { id, attributes, payload: new Uint8Array(0), contentType, structured } };
  }
  const json = datacontenttype === undefined || isJsonMediaType(parseMediaType(datacontenttype)!.essence);
  if (!json) {
    if (typeof data !== 'string') {
      return {
        error: invalid(
          `${where}: with datacontenttype ${datacontenttype}, data must be a string (or use data_base64)`,
        ),
      };
    }
    if (!isWellFormed(data)) return { error: invalid(`${where}: data is not well-formed Unicode`) };
    return {
      value: {
        id,
        attributes,
        payload: Buffer.from(data, 'utf8'),
        contentType: datacontenttype!,
        structured,
      },
    };
  }
  // JSON data: the exact text the client wrote (re-serializing would change numbers past 2^53).
  const dataSpan = objectMemberSpans(body, span.start)!.get('data')!;
  return {
    value: {
      id,
      attributes,
      payload: Buffer.from(body.subarray(dataSpan.start, dataSpan.end)),
      contentType: datacontenttype ?? 'application/json',
      value: data,
      structured,
    },
  };
}

function firstByte(body: Uint8Array): number {
  let i = 0;
  while (i < body.length && isSpace(body[i]!)) i++;
  return i;
}

function lastByte(body: Uint8Array): number {
  let i = body.length;
  while (i > 0 && isSpace(body[i - 1]!)) i--;
  return i;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

// ------------------------------------------------------------------ output

/** The envelope headers of an event published binary: `ce-<name>` per attribute, after `others`. */
export function binaryHeaders(
  attributes: ReadonlyMap<string, string>,
  others: Readonly<Record<string, string>>,
): Record<string, string> {
  // fromEntries: names from the request stay own properties (`__proto__` included).
  return Object.fromEntries([
    ...Object.entries(others).filter(([name]) => !name.startsWith(CLOUDEVENTS_HEADER_PREFIX)),
    ...[...attributes].map(([name, value]): [string, string] => [CLOUDEVENTS_HEADER_PREFIX + name, value]),
  ]);
}

/**
 * The event in the JSON event format, for a route that publishes structured: a structured or
 * batched input event exactly as the client wrote it; a binary one built from its attributes and
 * data (JSON data as its own text, UTF-8 text as a string, anything else as data_base64).
 */
export function structuredEvent(event: {
  readonly attributes: ReadonlyMap<string, string>;
  readonly payload: Uint8Array;
  readonly contentType: string;
  readonly structured?: Uint8Array;
}): Uint8Array {
  if (event.structured) return event.structured;
  const members = [...event.attributes].map(
    ([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`,
  );
  members.push(`"datacontenttype":${JSON.stringify(event.contentType)}`);
  const payload = Buffer.from(event.payload.buffer, event.payload.byteOffset, event.payload.byteLength);
  if (payload.length > 0) {
    const media = parseMediaType(event.contentType);
    if (media && isJsonMediaType(media.essence) && isUtf8(payload)) {
      members.push(`"data":${payload.toString('utf8')}`);
    } else if (media && isText(media.essence, event.contentType) && isUtf8(payload)) {
      members.push(`"data":${JSON.stringify(payload.toString('utf8'))}`);
    } else {
      members.push(`"data_base64":${JSON.stringify(payload.toString('base64'))}`);
    }
  }
  return Buffer.from(`{${members.join(',')}}`, 'utf8');
}

function isText(essence: string, full: string): boolean {
  return essence.startsWith('text/') || /;\s*charset\s*=\s*"?utf-8"?/i.test(full);
}
