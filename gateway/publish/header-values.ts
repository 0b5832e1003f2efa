/**
 * Request header values as the client sent them.
 *
 * Node hands every header value over as latin1 — one character per byte — so a UTF-8 value (a
 * Cyrillic Message-Key, a fullwidth ce-subject) would reach the broker as mojibake. The rule: a
 * header the gateway copies onto a message or uses for it (Message-Key, Message-Id, Content-Type,
 * ce-*, traceparent, tracestate, route-copied headers) is decoded from its bytes as UTF-8, and a
 * value that is not valid UTF-8 is refused with 400, never replaced. A UTF-8 decoder that refuses
 * invalid input also refuses encoded surrogates (ED A0 80…), so a decoded value is always
 * well-formed Unicode. Idempotency-Key keeps its own rule (visible ASCII only) and is not read here.
 */
import { GatewayError, type GatewayErrorCode } from '../errors/registry.js';

/** `req.headersDistinct`: lower-case name → every value given for it, in order. */
export type DistinctHeaders = Readonly<Record<string, string[] | undefined>>;

// ignoreBOM: a leading U+FEFF is part of the value the client sent; keep it rather than strip it.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
// eslint-disable-next-line no-control-regex
const BYTES = /^[\x00-\xff]*$/;

/**
 * The text a header value's bytes encode as UTF-8, or undefined when they are not valid UTF-8.
 * `raw` is the value as Node gives it: one latin1 character per byte on the wire.
 */
export function decodeHeaderValue(raw: string): string | undefined {
  if (ASCII.test(raw)) return raw; // nearly every header: ASCII is the same in both codings
  // A character above U+00FF cannot be a wire byte; Buffer.from would silently truncate it.
  if (!BYTES.test(raw)) return undefined;
  try {
    return STRICT_UTF8.decode(Buffer.from(raw, 'latin1'));
  } catch {
    return undefined;
  }
}

/** String.prototype.isWellFormed (Node 20): no unpaired surrogate. ES2024 is not in our TS lib. */
export function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/**
 * The one value of header `name`, decoded; `code` names the error of a value that is not UTF-8.
 * Repeated singleton headers are refused before any route runs (gateway/http/singleton-headers.ts).
 */
export function readHeader(
  headers: DistinctHeaders,
  name: string,
  code: GatewayErrorCode,
): { value: string | undefined } | { error: GatewayError } {
  const raw = headers[name];
  if (raw === undefined || raw.length === 0) return { value: undefined };
  if (raw.length > 1) return { error: new GatewayError(code, `the ${name} header may be given only once`) };
  const value = decodeHeaderValue(raw[0]!);
  return value === undefined ? { error: notUtf8(name, code) } : { value };
}

/**
 * The headers whose names match `patterns` (a name, or a prefix ending in `*`), each given once,
 * decoded. Names come from the request, so the result is built from a Map: `__proto__` or
 * `constructor` stay ordinary names (and are then judged by checkHeaders like any other).
 */
export function readCopiedHeaders(
  headers: DistinctHeaders,
  patterns: readonly string[],
): { headers: Record<string, string> } | { error: GatewayError } {
  const copied = new Map<string, string>();
  for (const [name, values] of Object.entries(headers)) {
    if (values === undefined || !patterns.some((pattern) => matches(pattern, name))) continue;
    if (values.length > 1) {
      return { error: new GatewayError('GW_ERR_INVALID_HEADER', `header ${name} is given more than once`) };
    }
    const value = decodeHeaderValue(values[0]!);
    if (value === undefined) return { error: notUtf8(name, 'GW_ERR_INVALID_HEADER') };
    copied.set(name, value);
  }
  return { headers: Object.fromEntries(copied) };
}

function matches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

function notUtf8(name: string, code: GatewayErrorCode): GatewayError {
  return new GatewayError(
    code,
    `the ${name} header is not valid UTF-8; header values are read as UTF-8 and stored exactly as sent`,
  );
}
