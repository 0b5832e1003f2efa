/**
 * What v2 and v3 records share once parsed: the message to publish (key, value bytes, content type,
 * headers) and the Kafka fields pubgate's envelope has no place for yet, carried as headers.
 *
 * Bytes in = bytes out: a key or header value that is not UTF-8 text (pubgate keys and header
 * values are strings) or that the gateway's checks refuse is an error for that record, never
 * stored changed.
 */
import { isUtf8 } from 'node:buffer';
import type { LimitsConfig } from '../../config/schema.js';
import { GatewayError } from '../../errors/registry.js';
import { isWellFormed } from '../../publish/header-values.js';
import { checkHeaders, checkMessageKey } from '../../publish/validation.js';
import { KafkaRestError } from './errors.js';

/**
 * Headers that carry Kafka record fields until the adapters read them (see README.md): the
 * partition the client asked for, and the record timestamp (epoch milliseconds). Written by the
 * gateway after the user's headers were checked, so a client cannot set them directly.
 */
export const RECORD_FIELD_HEADERS = {
  partition: 'pubgate-partition',
  timestamp: 'pubgate-timestamp',
} as const;

export type RecordError = GatewayError | KafkaRestError;

/** A record ready to become an envelope. */
export interface RecordInput {
  readonly key?: string;
  readonly payload: Uint8Array;
  readonly contentType: string;
  readonly headers: Record<string, string>;
  /** Bytes of the key and the value, for v3 delivery reports. */
  readonly keySize: number;
}

export const CONTENT_TYPES = {
  binary: 'application/octet-stream',
  json: 'application/json',
  text: 'text/plain; charset=utf-8',
} as const;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 (padded), or undefined: a lenient decoder would silently drop bad characters. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

export function invalidRecord(detail: string): KafkaRestError {
  return new KafkaRestError(400, 400, detail);
}

/** The key as pubgate keeps it (a string): the bytes must be UTF-8 text the key checks accept. */
export function keyOf(bytes: Uint8Array, limits: LimitsConfig): { key: string } | { error: RecordError } {
  if (!isUtf8(bytes)) {
    return {
      error: new GatewayError(
        'GW_ERR_INVALID_MESSAGE_KEY',
        'the key is not UTF-8 text; pubgate keeps keys as text and never stores them changed',
      ),
    };
  }
  const key = Buffer.from(bytes).toString('utf8');
  const bad = checkMessageKey(key, limits);
  return bad ? { error: bad } : { key };
}

/** A string value's UTF-8 bytes; a string with an unpaired surrogate has none. */
export function textBytes(text: string, what: string): { bytes: Uint8Array } | { error: RecordError } {
  if (!isWellFormed(text)) {
    return {
      error: invalidRecord(`${what} must be well-formed Unicode (it contains an unpaired surrogate)`),
    };
  }
  return { bytes: Buffer.from(text, 'utf8') };
}

/**
 * Record headers (`name` → base64 value) as message headers: each value must decode to UTF-8 text,
 * then the gateway's header checks apply (names lower-cased, reserved names and control characters
 * refused), as for /v1.
 */
export function headersOf(
  list: readonly { readonly name: string; readonly value: string | null }[],
  limits: LimitsConfig,
): { headers: Record<string, string> } | { error: RecordError } {
  // A Map, not an object: a header named "__proto__" stays a header.
  const decoded = new Map<string, string>();
  for (const { name, value } of list) {
    if (value === null) {
      return { error: invalidRecord(`header "${name}" has a null value, which pubgate cannot keep`) };
    }
    const bytes = decodeBase64(value);
    if (!bytes) return { error: invalidRecord(`header "${name}" must have a standard base64 value`) };
    if (!isUtf8(bytes)) {
      return {
        error: new GatewayError(
          'GW_ERR_INVALID_HEADER',
          `header "${name}" is not UTF-8 text once decoded; pubgate keeps header values as text`,
        ),
      };
    }
    if (decoded.has(name))
      return { error: new GatewayError('GW_ERR_INVALID_HEADER', `header "${name}" is given twice`) };
    decoded.set(name, Buffer.from(bytes).toString('utf8'));
  }
  const checked = checkHeaders(Object.fromEntries(decoded), limits);
  return checked;
}

/** Adds the record-field headers to checked user headers. */
export function withRecordFields(
  headers: Record<string, string>,
  fields: { partition?: number | undefined; timestamp?: number | undefined },
): Record<string, string> {
  const result = { ...headers };
  if (fields.partition !== undefined) result[RECORD_FIELD_HEADERS.partition] = String(fields.partition);
  if (fields.timestamp !== undefined) result[RECORD_FIELD_HEADERS.timestamp] = String(fields.timestamp);
  return result;
}

/** The raw JSON text of a span: the bytes the client wrote. */
export function spanBytes(body: Uint8Array, span: { start: number; end: number }): Uint8Array {
  return Buffer.from(body.subarray(span.start, span.end));
}
