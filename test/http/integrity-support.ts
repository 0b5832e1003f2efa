/**
 * Helpers of the integrity suites (test/http/integrity-*.test.ts): requests with exact header
 * bytes, problem checks, and reading back what the embedded broker stored.
 *
 * fetch and http.request refuse header values with characters above U+00FF and send the rest as
 * latin1, so a header carrying UTF-8 (or deliberately broken) bytes is written here over node:net,
 * byte for byte.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { auth } from '../support/gateway.js';
import { assertDocumented } from '../support/openapi.js';

/** A header line: its value as text (sent as UTF-8) or as exact bytes. */
export type HeaderLine = readonly [name: string, value: string | Uint8Array];

export interface Answer {
  readonly status: number;
  /** Lower-case names; a repeated header keeps its last value. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: Record<string, unknown> | undefined;
}

/**
 * One HTTP/1.1 request over a fresh connection, written byte for byte: `headers` in order (repeats
 * allowed), then Content-Length (unless given) and the body.
 */
export function exchange(
  url: string,
  options: { method?: string; path: string; headers?: readonly HeaderLine[]; body?: string | Uint8Array },
): Promise<Answer> {
  const target = new URL(url);
  const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body;
  const given = options.headers ?? [];
  const framed = given.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name));
  const lines: Buffer[] = [
    Buffer.from(`${options.method ?? 'POST'} ${options.path} HTTP/1.1\r\nHost: ${target.host}\r\n`),
    ...given.map(([name, value]) =>
      Buffer.concat([Buffer.from(`${name}: `), Buffer.from(value), Buffer.from('\r\n')]),
    ),
    Buffer.from(framed || body === undefined ? '' : `Content-Length: ${body.length}\r\n`),
    Buffer.from('Connection: close\r\n\r\n'),
    Buffer.from(body ?? []),
  ];
  return new Promise((resolve, reject) => {
    // write, not end: a half-closed connection tells the server the client went away. The
    // server closes it after its answer (Connection: close).
    const socket = net.connect(Number(target.port), target.hostname, () =>
      socket.write(Buffer.concat(lines)),
    );
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (error) {
        reject(error as Error);
      }
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
  });
}

function parseResponse(raw: Buffer): Answer {
  const split = raw.indexOf('\r\n\r\n');
  assert.ok(split > 0, `not an HTTP response: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const [statusLine, ...headerLines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(split + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined)
    body = body.subarray(0, Number(headers['content-length']));
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body, json };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** The development credential as a header line. */
export const AUTH: HeaderLine = ['Authorization', auth().authorization!];
export const JSON_TYPE: HeaderLine = ['Content-Type', 'application/json'];

/**
 * Asserts a problem+json answer with this status and code; when `documented` names an operation
 * (path template and method), also that the OpenAPI document describes the answer.
 */
export function assertProblem(
  answer: Answer,
  status: number,
  code: string,
  documented?: { path: string; method: 'get' | 'post' },
): Record<string, unknown> {
  const detail = answer.body.toString('utf8');
  assert.equal(answer.status, status, detail);
  assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/, detail);
  assert.equal(answer.json?.code, code, detail);
  assert.equal(answer.json?.status, status);
  if (documented) assertDocumented(documented.path, documented.method, asResponse(answer), answer.json);
  return answer.json!;
}

/** What assertDocumented reads of a fetch Response: the status and the content type. */
export function asResponse(answer: Answer): Response {
  return new Response(null, {
    status: answer.status,
    headers: { 'content-type': answer.headers['content-type'] ?? '' },
  });
}

export interface StoredMessage {
  readonly offset: string;
  readonly id: string;
  readonly key?: string;
  readonly headers: Record<string, string>;
  readonly contentType: string;
  readonly value?: string;
  readonly valueBase64?: string;
}

/** Every message the embedded broker stored for `topic` (GET /v1/topics/{topic}/messages). */
export async function storedMessages(url: string, topic: string): Promise<StoredMessage[]> {
  const res = await fetch(`${url}/v1/topics/${topic}/messages?limit=1000`, { headers: auth() });
  const page = (await res.json()) as { messages: StoredMessage[] };
  assert.equal(res.status, 200, JSON.stringify(page));
  return page.messages;
}

/**
 * The payload bytes of a stored message. The read API gives JSON and text payloads as a string
 * (their UTF-8, decoded) and others as base64; every payload these suites store as text is valid
 * UTF-8, which decodes and re-encodes to the same bytes, and this refuses one that came back with
 * a replacement character, so the comparison stays byte-exact.
 */
export function storedBytes(message: StoredMessage): Buffer {
  if (message.valueBase64 !== undefined) return Buffer.from(message.valueBase64, 'base64');
  assert.ok(message.value !== undefined, 'a stored message without a payload');
  assert.ok(!message.value.includes('\ufffd'), 'the stored payload is not valid UTF-8');
  return Buffer.from(message.value, 'utf8');
}
