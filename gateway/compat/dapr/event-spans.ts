/**
 * Where each bulk entry's `event` sits in the request body, so a JSON event is published as the
 * bytes the client wrote (re-serializing the parsed value would change 12345678901234567890, -0 or
 * 1e2). Call only on a body JSON.parse accepted: the scan trusts its syntax.
 */

export interface Span {
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
 * One entry per element of the top-level array: the span of its member named `event` (compared
 * without case, as Dapr's Go decoder does; the last one wins, as with JSON.parse), or undefined.
 */
export function eventSpans(body: Uint8Array): (Span | undefined)[] {
  const spans: (Span | undefined)[] = [];
  let i = skipSpace(body, 0);
  if (body[i] !== OPEN_ARRAY) return spans;
  i = skipSpace(body, i + 1);
  if (body[i] === CLOSE_ARRAY) return spans;
  for (;;) {
    let span: Span | undefined;
    if (body[i] === OPEN_OBJECT) {
      i = skipSpace(body, i + 1);
      while (body[i] !== CLOSE_OBJECT) {
        const nameEnd = skipString(body, i);
        const name = JSON.parse(Buffer.from(body.subarray(i, nameEnd)).toString('utf8')) as string;
        i = skipSpace(body, nameEnd);
        i = skipSpace(body, i + 1); // the colon
        const end = skipValue(body, i);
        if (name.toLowerCase() === 'event') span = { start: i, end };
        i = skipSpace(body, end);
        if (body[i] === COMMA) i = skipSpace(body, i + 1);
      }
      i += 1;
    } else {
      i = skipValue(body, i);
    }
    spans.push(span);
    i = skipSpace(body, i);
    if (body[i] !== COMMA) return spans;
    i = skipSpace(body, i + 1);
  }
}

function skipSpace(body: Uint8Array, at: number): number {
  let i = at;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d)) {
    i++;
  }
  return i;
}

function skipString(body: Uint8Array, at: number): number {
  for (let i = at + 1; i < body.length; i++) {
    if (body[i] === BACKSLASH) i++;
    else if (body[i] === QUOTE) return i + 1;
  }
  throw new Error(`eventSpans: unterminated string at byte ${at}`);
}

function skipValue(body: Uint8Array, at: number): number {
  const first = body[at];
  if (first === QUOTE) return skipString(body, at);
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
    let i = at;
    while (i < body.length && !isDelimiter(body[i]!)) i++;
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
  throw new Error(`eventSpans: unterminated value at byte ${at}`);
}

function isDelimiter(c: number): boolean {
  return (
    c === COMMA ||
    c === CLOSE_OBJECT ||
    c === CLOSE_ARRAY ||
    c === COLON ||
    c === 0x20 ||
    c === 0x09 ||
    c === 0x0a ||
    c === 0x0d
  );
}
