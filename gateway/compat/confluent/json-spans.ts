/**
 * Byte positions inside JSON request bodies, so a record's JSON key or value is published as the
 * exact bytes the client wrote (re-serializing a parsed value would change 12345678901234567890,
 * 1e400, -0 or 0.1e1). The same idea as gateway/publish/json.ts batchValueSpans, for the shapes of
 * these APIs: v2 `records[i].key|value`, v3 `key.data|value.data`, and v3's concatenated records.
 *
 * Offsets are byte offsets into UTF-8: every byte JSON structure uses is ASCII, and UTF-8 never uses
 * an ASCII byte inside a multi-byte character, so no character is split.
 */

/** Bytes [start, end) of one JSON value, surrounding whitespace excluded. */
export interface ByteSpan {
  readonly start: number;
  readonly end: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * Cuts a body of concatenated JSON values (`{…} {…}`, v3 streaming) into one span per value,
 * without validating them: each span is parsed on its own, so one malformed record gets its own
 * error. `unterminated` is where the last value starts when it never ends (an unclosed string or
 * bracket): nothing after it can be delimited.
 */
export function splitConcatenated(body: Uint8Array): { spans: ByteSpan[]; unterminated?: number } {
  const spans: ByteSpan[] = [];
  let i = skipWhitespace(body, 0);
  while (i < body.length) {
    const end = looseEnd(body, i);
    if (end === undefined) return { spans, unterminated: i };
    spans.push({ start: i, end });
    i = skipWhitespace(body, end);
  }
  return { spans };
}

/** The end of the value at `at` by bracket and string structure alone, or undefined if unterminated. */
function looseEnd(body: Uint8Array, at: number): number | undefined {
  const first = body[at];
  if (first === QUOTE) return stringEnd(body, at);
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    // A scalar (or garbage): up to the next whitespace or the start of another value.
    let i = at + 1;
    while (i < body.length && !isWhitespace(body[i]!) && !startsValue(body[i]!)) i++;
    return i;
  }
  let depth = 0;
  for (let i = at; i < body.length; i++) {
    const c = body[i];
    if (c === QUOTE) {
      const end = stringEnd(body, i);
      if (end === undefined) return undefined;
      i = end - 1;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}

/**
 * The span of member `name` of the object at `at` (its `{`), the last one when repeated (as
 * JSON.parse keeps the last). Call only on text JSON.parse accepted.
 */
export function memberSpan(body: Uint8Array, at: number, name: string): ByteSpan | undefined {
  if (body[at] !== OPEN_OBJECT) return undefined;
  let found: ByteSpan | undefined;
  let i = skipWhitespace(body, at + 1);
  if (body[i] === CLOSE_OBJECT) return undefined;
  for (;;) {
    const nameEnd = strictStringEnd(body, i);
    const matches = nameIs(body, { start: i, end: nameEnd }, name);
    i = skipWhitespace(body, nameEnd);
    expect(body, i, COLON);
    const valueAt = skipWhitespace(body, i + 1);
    const valueEnd = valueEndOf(body, valueAt);
    if (matches) found = { start: valueAt, end: valueEnd };
    i = skipWhitespace(body, valueEnd);
    if (body[i] === CLOSE_OBJECT) return found;
    expect(body, i, COMMA);
    i = skipWhitespace(body, i + 1);
  }
}

/** The spans of the elements of the array at `at` (its `[`). Call only on text JSON.parse accepted. */
export function elementSpans(body: Uint8Array, at: number): ByteSpan[] {
  const spans: ByteSpan[] = [];
  if (body[at] !== OPEN_ARRAY) return spans;
  let i = skipWhitespace(body, at + 1);
  if (body[i] === CLOSE_ARRAY) return spans;
  for (;;) {
    const end = valueEndOf(body, i);
    spans.push({ start: i, end });
    i = skipWhitespace(body, end);
    if (body[i] === CLOSE_ARRAY) return spans;
    expect(body, i, COMMA);
    i = skipWhitespace(body, i + 1);
  }
}

/** The span of the value at `path` (member names) from the object at `at`, or undefined. */
export function pathSpan(body: Uint8Array, at: number, path: readonly string[]): ByteSpan | undefined {
  let span: ByteSpan | undefined = { start: at, end: at };
  for (const name of path) {
    span = memberSpan(body, span.start, name);
    if (!span) return undefined;
  }
  return span;
}

/** The end of the valid JSON value at `at`; iterative, whatever the nesting. */
function valueEndOf(body: Uint8Array, at: number): number {
  const end = looseEnd(body, at);
  if (end === undefined) throw new Error(`json-spans: unterminated value at byte ${at}`);
  if (body[at] !== QUOTE && body[at] !== OPEN_OBJECT && body[at] !== OPEN_ARRAY) {
    // A scalar inside a container also ends at `,` `}` `]`.
    let i = at;
    while (i < end && body[i] !== COMMA && body[i] !== CLOSE_OBJECT && body[i] !== CLOSE_ARRAY) i++;
    return i;
  }
  return end;
}

function stringEnd(body: Uint8Array, at: number): number | undefined {
  for (let i = at + 1; i < body.length; i++) {
    if (body[i] === BACKSLASH) i++;
    else if (body[i] === QUOTE) return i + 1;
  }
  return undefined;
}

function strictStringEnd(body: Uint8Array, at: number): number {
  expect(body, at, QUOTE);
  const end = stringEnd(body, at);
  if (end === undefined) throw new Error(`json-spans: unterminated string at byte ${at}`);
  return end;
}

/** Whether the JSON string at `span` (quotes included) decodes to `wanted` (ASCII). */
function nameIs(body: Uint8Array, span: ByteSpan, wanted: string): boolean {
  const inner = body.subarray(span.start + 1, span.end - 1);
  if (!inner.includes(BACKSLASH)) {
    return inner.length === wanted.length && inner.every((byte, k) => byte === wanted.charCodeAt(k));
  }
  return JSON.parse(Buffer.from(body.subarray(span.start, span.end)).toString('utf8')) === wanted;
}

function skipWhitespace(body: Uint8Array, at: number): number {
  let i = at;
  while (i < body.length && isWhitespace(body[i]!)) i++;
  return i;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function startsValue(c: number): boolean {
  return c === QUOTE || c === OPEN_OBJECT || c === OPEN_ARRAY;
}

function expect(body: Uint8Array, at: number, byte: number): void {
  if (body[at] !== byte) {
    throw new Error(`json-spans: expected "${String.fromCharCode(byte)}" at byte ${at}`);
  }
}
