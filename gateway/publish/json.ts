import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../errors/registry.js';

/**
 * Parses a JSON body after checking its nesting depth with a linear scan, so a body nested
 * 10,000 deep is a 400 and never a deep recursion anywhere downstream. JSON is UTF-8 (RFC 8259):
 * a body that is not valid UTF-8 is refused, never decoded with replacement characters.
 */
export function parseJsonBody(
  body: Uint8Array,
  maxDepth: number,
): { value: unknown } | { error: GatewayError } {
  if (body.byteLength === 0) {
    return { error: new GatewayError('GW_ERR_INVALID_JSON', 'the body is empty; a JSON value is required') };
  }
  const depth = jsonDepth(body, maxDepth);
  if (depth > maxDepth) {
    return {
      error: new GatewayError(
        'GW_ERR_JSON_TOO_DEEP',
        `the JSON body is nested deeper than ${maxDepth} levels`,
      ),
    };
  }
  if (!isUtf8(body)) {
    return {
      error: new GatewayError(
        'GW_ERR_INVALID_JSON',
        'the body is not valid UTF-8; JSON text is UTF-8 (RFC 8259)',
      ),
    };
  }
  try {
    return { value: JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) };
  } catch (error) {
    return {
      error: new GatewayError(
        'GW_ERR_INVALID_JSON',
        `the body is not valid JSON: ${(error as Error).message}`,
      ),
    };
  }
}

/** Deepest array/object nesting, counting brackets outside strings; stops once past `limit`. */
export function jsonDepth(body: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** Where one JSON value sits in a body: bytes [start, end), surrounding whitespace excluded. */
export interface ByteSpan {
  readonly start: number;
  readonly end: number;
}

/**
 * The byte span of each `messages[i].value` in a batch body, so the broker gets exactly the bytes
 * the client wrote for it: re-serializing the parsed value would change 12345678901234567890 (past
 * 2^53), 1e999999 (null), -0 and 0.1e1. One entry per element of the top-level "messages" array,
 * undefined for an element without a "value"; undefined when there is no such array.
 *
 * Call it only on a body parseJsonBody accepted (valid UTF-8 JSON, depth checked): the scan relies
 * on that and throws on anything else. Like JSON.parse, the last of duplicate names wins, and a
 * name written with escapes ("v\u0061lue") is the name it decodes to. Offsets are byte offsets:
 * every byte JSON structure uses is ASCII, and UTF-8 never uses ASCII bytes inside a multi-byte
 * character, so no character is split.
 */
export function batchValueSpans(body: Uint8Array): (ByteSpan | undefined)[] | undefined {
  let spans: (ByteSpan | undefined)[] | undefined;
  const start = skipWhitespace(body, 0);
  if (body[start] !== OPEN_OBJECT) return undefined;
  forEachMember(body, start, (name, at) => {
    if (!nameIs(body, name, 'messages')) return skipValue(body, at);
    if (body[at] !== OPEN_ARRAY) {
      spans = undefined; // a later "messages" replaces an earlier one, as in JSON.parse
      return skipValue(body, at);
    }
    const found: (ByteSpan | undefined)[] = [];
    const end = forEachElement(body, at, (element) => {
      found.push(body[element] === OPEN_OBJECT ? valueSpan(body, element) : undefined);
      return skipValue(body, element);
    });
    spans = found;
    return end;
  });
  return spans;
}

/**
 * The byte span of each member value of the JSON object starting at byte `at` (its `{`), by
 * decoded member name; like JSON.parse, the last of duplicate names wins. For a body parseJsonBody
 * accepted (the same preconditions as batchValueSpans). Undefined when no object starts at `at`.
 */
export function objectMemberSpans(
  body: Uint8Array,
  at = skipWhitespace(body, 0),
): Map<string, ByteSpan> | undefined {
  if (body[at] !== OPEN_OBJECT) return undefined;
  const spans = new Map<string, ByteSpan>();
  forEachMember(body, at, (name, valueAt) => {
    const end = skipValue(body, valueAt);
    spans.set(decodeName(body, name), { start: valueAt, end });
    return end;
  });
  return spans;
}

/**
 * The byte span of each element of the top-level JSON array of a body parseJsonBody accepted, in
 * order; undefined when the body is not an array.
 */
export function arrayElementSpans(body: Uint8Array): ByteSpan[] | undefined {
  const start = skipWhitespace(body, 0);
  if (body[start] !== OPEN_ARRAY) return undefined;
  const spans: ByteSpan[] = [];
  forEachElement(body, start, (element) => {
    const end = skipValue(body, element);
    spans.push({ start: element, end });
    return end;
  });
  return spans;
}

function decodeName(body: Uint8Array, span: ByteSpan): string {
  const inner = body.subarray(span.start + 1, span.end - 1);
  if (!inner.includes(BACKSLASH)) return Buffer.from(inner).toString('utf8');
  return JSON.parse(Buffer.from(body.subarray(span.start, span.end)).toString('utf8')) as string;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** The span of the last "value" member of the object at `at`. */
function valueSpan(body: Uint8Array, at: number): ByteSpan | undefined {
  let span: ByteSpan | undefined;
  forEachMember(body, at, (name, valueAt) => {
    const end = skipValue(body, valueAt);
    if (nameIs(body, name, 'value')) span = { start: valueAt, end };
    return end;
  });
  return span;
}

/**
 * Visits each member of the object starting at `at` (its `{`): `visit` gets the member name's span
 * (quotes included) and where its value starts, and returns where the value ends. Returns the
 * index after the closing `}`.
 */
function forEachMember(
  body: Uint8Array,
  at: number,
  visit: (name: ByteSpan, valueAt: number) => number,
): number {
  let i = skipWhitespace(body, at + 1);
  if (body[i] === CLOSE_OBJECT) return i + 1;
  for (;;) {
    expect(body, i, QUOTE);
    const name = { start: i, end: skipString(body, i) };
    i = skipWhitespace(body, name.end);
    expect(body, i, COLON);
    i = skipWhitespace(body, visit(name, skipWhitespace(body, i + 1)));
    if (body[i] === CLOSE_OBJECT) return i + 1;
    expect(body, i, COMMA);
    i = skipWhitespace(body, i + 1);
  }
}

/** Visits each element of the array starting at `at` (its `[`), in order, like forEachMember. */
function forEachElement(body: Uint8Array, at: number, visit: (elementAt: number) => number): number {
  let i = skipWhitespace(body, at + 1);
  if (body[i] === CLOSE_ARRAY) return i + 1;
  for (;;) {
    i = skipWhitespace(body, visit(i));
    if (body[i] === CLOSE_ARRAY) return i + 1;
    expect(body, i, COMMA);
    i = skipWhitespace(body, i + 1);
  }
}

/** Whether the JSON string at `span` (quotes included) decodes to `wanted`. */
function nameIs(body: Uint8Array, span: ByteSpan, wanted: string): boolean {
  const inner = body.subarray(span.start + 1, span.end - 1);
  if (!inner.includes(BACKSLASH)) {
    // No escape: the bytes are the name (`wanted` is ASCII).
    return inner.length === wanted.length && inner.every((byte, k) => byte === wanted.charCodeAt(k));
  }
  return JSON.parse(Buffer.from(body.subarray(span.start, span.end)).toString('utf8')) === wanted;
}

/** The index after the value starting at `at`; iterative, whatever the nesting. */
function skipValue(body: Uint8Array, at: number): number {
  const first = body[at];
  if (first === QUOTE) return skipString(body, at);
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    // A number, true, false or null: runs to the next delimiter.
    let i = at;
    while (i < body.length && !isDelimiter(body[i]!)) i++;
    if (i === at) throw new Error(`batchValueSpans: no JSON value at byte ${at}`);
    return i;
  }
  let depth = 0;
  for (let i = at; i < body.length; i++) {
    const c = body[i];
    if (c === QUOTE) i = skipString(body, i) - 1;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error(`batchValueSpans: unterminated value at byte ${at}`);
}

/** The index after the closing quote of the string whose opening quote is at `at`. */
function skipString(body: Uint8Array, at: number): number {
  for (let i = at + 1; i < body.length; i++) {
    if (body[i] === BACKSLASH) i++;
    else if (body[i] === QUOTE) return i + 1;
  }
  throw new Error(`batchValueSpans: unterminated string at byte ${at}`);
}

function skipWhitespace(body: Uint8Array, at: number): number {
  let i = at;
  while (i < body.length && isWhitespace(body[i]!)) i++;
  return i;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isDelimiter(c: number): boolean {
  return isWhitespace(c) || c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY;
}

function expect(body: Uint8Array, at: number, byte: number): void {
  if (body[at] !== byte) {
    throw new Error(`batchValueSpans: expected "${String.fromCharCode(byte)}" at byte ${at}`);
  }
}
