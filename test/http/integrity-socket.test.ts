/**
 * The connection level, over raw sockets (../shared/TESTING.md, "Bad input"): what Node's HTTP
 * parser refuses gets a problem+json answer with a stable code and the connection is closed;
 * smuggling shapes get exactly one answer; slow headers and slow bodies are cut at the configured
 * timeouts (to within a second) with a 408; a chunked body declaring more than the route allows
 * is refused at once. Nothing refused reaches the broker, and the gateway keeps serving.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  auth,
  embeddedConfig,
  startGateway,
  writeGatewayConfig,
  type TestGateway,
} from '../support/gateway.js';

const HEADERS_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 3_000;
/** "Enforced to within a second" (the check runs every 500 ms; the machine is shared). */
const SLACK_MS = 1_000;
const REFUSED = 'refused.socket';
const SMALL_LIMIT = 1024;

interface Conversation {
  readonly raw: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly problem: Record<string, unknown> | undefined;
  /** Answers in `raw` (a smuggled second request would show as a second status line). */
  readonly answers: number;
  /** From the first byte sent until the gateway closed its side. */
  readonly closedAfterMs: number;
}

/** A step: bytes to write, or a pause in milliseconds. */
type Step = string | Buffer | number;

/**
 * Opens a connection, plays `steps` (stopping if the gateway closes first) and returns what came
 * back once the gateway closed the connection. Never half-closes: that would tell the gateway the
 * client left.
 */
function converse(port: number, steps: readonly Step[], timeoutMs = 20_000): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let started = 0;
    let closedAt = 0;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => (closedAt ||= Date.now()));
    socket.on('error', () => {}); // a reset after the answer is the gateway closing: fine
    const closed = new AbortController();
    socket.on('close', () => {
      clearTimeout(timer);
      closed.abort();
      closedAt ||= Date.now();
      resolve(parse(Buffer.concat(chunks).toString('latin1'), closedAt - started));
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the gateway did not close the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', async () => {
      started = Date.now();
      for (const step of steps) {
        if (socket.destroyed || closedAt) return;
        if (typeof step !== 'number') socket.write(step);
        else await sleep(step, undefined, { signal: closed.signal }).catch(() => {});
      }
    });
  });
}

function parse(raw: string, closedAfterMs: number): Conversation {
  const split = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = (split < 0 ? raw : raw.slice(0, split)).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let problem: Record<string, unknown> | undefined;
  if (split >= 0 && /^application\/problem\+json/.test(headers['content-type'] ?? '')) {
    const length = Number(headers['content-length']);
    problem = JSON.parse(raw.slice(split + 4, split + 4 + length)) as Record<string, unknown>;
  }
  return {
    raw,
    status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1] ?? 0),
    headers,
    problem,
    answers: raw.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0,
    closedAfterMs,
  };
}

function assertProblem(answer: Conversation, status: number, code: string): void {
  assert.equal(answer.status, status, answer.raw.slice(0, 400));
  assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/);
  assert.equal(answer.headers.connection, 'close');
  assert.ok(answer.problem, 'a problem body');
  assert.equal(answer.problem.code, code);
  assert.equal(answer.problem.status, status);
  assert.equal(answer.problem.type, `urn:pubgate:problem:${code}`);
  assert.equal(typeof answer.problem.title, 'string');
  assert.equal(typeof answer.problem.detail, 'string');
  assert.equal(typeof answer.problem.retriable, 'boolean');
  assert.equal(answer.answers, 1, 'exactly one answer');
}

/** The head of a publish to `topic`, without the final blank line. */
function publishHead(topic: string, lines: readonly string[] = []): string {
  return [
    `POST /v1/topics/${topic}/messages HTTP/1.1`,
    'Host: gateway',
    `Authorization: ${auth().authorization}`,
    'Content-Type: text/plain',
    ...lines,
  ].join('\r\n');
}

describe('connection-level refusals and timeouts', () => {
  let gw: TestGateway;
  let port: number;
  const config = (server: Record<string, unknown> = {}) =>
    embeddedConfig({
      server: {
        host: '127.0.0.1',
        port: 0,
        headersTimeoutMs: HEADERS_TIMEOUT_MS,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        ...server,
      },
      routes: [
        { topic: 'small.*', target: 'local', maxBodyBytes: SMALL_LIMIT },
        { topic: '**', target: 'local' },
      ],
    });
  before(async () => {
    gw = await startGateway(config());
    port = Number(new URL(gw.url).port);
  });
  after(async () => {
    const stored = async (topic: string) =>
      (
        (await (await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() })).json()) as {
          messages: unknown[];
        }
      ).messages.length;
    const counts = [await stored(REFUSED), await stored('small.refused')];
    await gw.stop();
    assert.deepEqual(counts, [0, 0], 'a refused request reached the broker');
  });

  describe('requests the HTTP parser refuses → problem+json, then close', () => {
    const head = (lines: readonly string[]) => `${publishHead(REFUSED, lines)}\r\n\r\n`;
    for (const [label, bytes, status, code] of [
      [
        'Content-Length and Transfer-Encoding',
        head(['Content-Length: 5', 'Transfer-Encoding: chunked']) + '0\r\n\r\n',
        400,
        'GW_ERR_BAD_REQUEST',
      ],
      [
        'two different Content-Lengths',
        head(['Content-Length: 5', 'Content-Length: 6']) + 'hello!',
        400,
        'GW_ERR_BAD_REQUEST',
      ],
      [
        'the same Content-Length twice',
        head(['Content-Length: 5', 'Content-Length: 5']) + 'hello',
        400,
        'GW_ERR_BAD_REQUEST',
      ],
      ['a malformed Content-Length', head(['Content-Length: 5x']) + 'hello', 400, 'GW_ERR_BAD_REQUEST'],
      ['a negative Content-Length', head(['Content-Length: -1']) + 'hello', 400, 'GW_ERR_BAD_REQUEST'],
      [
        'an obs-folded header line',
        head(['X-Folded: a', ' b', 'Content-Length: 0']),
        400,
        'GW_ERR_BAD_REQUEST',
      ],
      ['a header name with a space', head(['X Bad: a', 'Content-Length: 0']), 400, 'GW_ERR_BAD_REQUEST'],
      [
        'a space before the colon',
        head(['Transfer-Encoding : chunked', 'Content-Length: 0']),
        400,
        'GW_ERR_BAD_REQUEST',
      ],
      ['a NUL in a header value', head(['X-Nul: a\u0000b', 'Content-Length: 0']), 400, 'GW_ERR_BAD_REQUEST'],
      [
        'a Transfer-Encoding that does not end in chunked',
        head(['Transfer-Encoding: gzip']) + 'abc',
        400,
        'GW_ERR_BAD_REQUEST',
      ],
      [
        'Transfer-Encoding: chunked twice',
        head(['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']) + '0\r\n\r\n',
        400,
        'GW_ERR_BAD_REQUEST',
      ],
      [
        'a malformed chunk size',
        head(['Transfer-Encoding: chunked']) + 'zz\r\nab\r\n0\r\n\r\n',
        400,
        'GW_ERR_BAD_REQUEST',
      ],
      ['a garbage request line', 'GARBAGE\r\n\r\n', 400, 'GW_ERR_BAD_REQUEST'],
      ['an unknown HTTP version', 'GET /livez HTTP/9.9\r\nHost: gateway\r\n\r\n', 400, 'GW_ERR_BAD_REQUEST'],
      ['bare LF line ends', 'GET /livez HTTP/1.1\nHost: gateway\n\n', 400, 'GW_ERR_BAD_REQUEST'],
      ['an HTTP/1.1 request without Host', 'GET /livez HTTP/1.1\r\n\r\n', 400, 'GW_ERR_BAD_REQUEST'],
      ['two Host headers', 'GET /livez HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'GW_ERR_BAD_REQUEST'],
      [
        'a head over server.maxHeaderSize',
        `GET /livez HTTP/1.1\r\nHost: gateway\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
        431,
        'GW_ERR_HEADERS_TOO_LARGE',
      ],
      [
        'an unknown method',
        'FROB /livez HTTP/1.1\r\nHost: gateway\r\n\r\n',
        501,
        'GW_ERR_METHOD_NOT_IMPLEMENTED',
      ],
      [
        'CONNECT',
        'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
        501,
        'GW_ERR_METHOD_NOT_IMPLEMENTED',
      ],
      [
        'an Expect other than 100-continue',
        head(['Expect: 200-ok', 'Content-Length: 2']) + 'ok',
        417,
        'GW_ERR_EXPECTATION_FAILED',
      ],
    ] as const) {
      it(`${label} → ${status} ${code}`, async () => {
        const answer = await converse(port, [bytes]);
        assertProblem(answer, status, code);
        // Closed promptly, not at a timeout.
        assert.ok(answer.closedAfterMs < HEADERS_TIMEOUT_MS, `closed after ${answer.closedAfterMs} ms`);
      });
    }

    it('more header fields than server.maxHeadersCount → 431 (none dropped silently); exactly the limit is fine', async () => {
      const fields = (count: number) =>
        [
          'GET /livez HTTP/1.1',
          'Host: gateway',
          'Connection: close',
          ...Array.from({ length: count - 2 }, (_, i) => `X-F${i}: v`),
        ].join('\r\n') + '\r\n\r\n';
      assertProblem(await converse(port, [fields(101)]), 431, 'GW_ERR_HEADERS_TOO_LARGE');
      const fine = await converse(port, [fields(100)]);
      assert.equal(fine.status, 200, fine.raw.slice(0, 300));
    });
  });

  describe('request smuggling: exactly one answer, nothing stored', () => {
    const smuggled = `GET /v1/topics/${REFUSED}/messages HTTP/1.1\r\nHost: gateway\r\nAuthorization: ${auth().authorization}\r\n\r\n`;
    for (const [label, bytes] of [
      [
        'CL.TE',
        `${publishHead(REFUSED, [`Content-Length: ${4 + smuggled.length}`, 'Transfer-Encoding: chunked'])}\r\n\r\n0\r\n\r\n${smuggled}`,
      ],
      [
        'TE.CL',
        `${publishHead(REFUSED, ['Transfer-Encoding: chunked', 'Content-Length: 4'])}\r\n\r\n5c\r\n${smuggled}\r\n0\r\n\r\n`,
      ],
      [
        'TE obfuscated with a tab',
        `${publishHead(REFUSED, ['Content-Length: 4', 'Transfer-Encoding:\tchunked'])}\r\n\r\n0\r\n\r\n${smuggled}`,
      ],
      [
        'TE with a second, bogus coding',
        `${publishHead(REFUSED, ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity'])}\r\n\r\n0\r\n\r\n${smuggled}`,
      ],
      [
        'a body smuggled after a bodiless POST',
        `${publishHead(REFUSED, ['Content-Length: 0', 'Content-Length: 44'])}\r\n\r\n${smuggled}`,
      ],
    ] as const) {
      it(label, async () => {
        const answer = await converse(port, [bytes]);
        assert.equal(answer.answers, 1, answer.raw);
        assert.equal(answer.status, 400, answer.raw.slice(0, 300));
        assert.equal(answer.problem?.code, 'GW_ERR_BAD_REQUEST');
      });
    }
  });

  describe('slow clients are cut at the configured timeouts, with a 408', () => {
    const within = (answer: Conversation, timeoutMs: number, t: TestContext) => {
      t.diagnostic(`closed after ${answer.closedAfterMs} ms (timeout ${timeoutMs} ms)`);
      assert.ok(
        answer.closedAfterMs >= timeoutMs - 100 && answer.closedAfterMs <= timeoutMs + SLACK_MS,
        `closed after ${answer.closedAfterMs} ms; expected ${timeoutMs} ms (+${SLACK_MS})`,
      );
    };
    const trickle = (text: string, everyMs: number): Step[] => [...text].flatMap((c) => [c, everyMs]);

    it('headers trickled a byte at a time → 408 at headersTimeoutMs', async (t) => {
      const answer = await converse(port, trickle(`${publishHead(REFUSED)}\r\n`.repeat(3), 100));
      assertProblem(answer, 408, 'GW_ERR_REQUEST_TIMEOUT');
      within(answer, HEADERS_TIMEOUT_MS, t);
    });

    it('a connection that sends nothing → closed at headersTimeoutMs', async (t) => {
      const answer = await converse(port, [60_000]);
      assertProblem(answer, 408, 'GW_ERR_REQUEST_TIMEOUT');
      within(answer, HEADERS_TIMEOUT_MS, t);
    });

    it('a body trickled a byte at a time → 408 at requestTimeoutMs (from the first byte)', async (t) => {
      const answer = await converse(port, [
        `${publishHead(REFUSED, ['Content-Length: 100'])}\r\n\r\n`,
        ...trickle('x'.repeat(100), 100),
      ]);
      assertProblem(answer, 408, 'GW_ERR_REQUEST_TIMEOUT');
      within(answer, REQUEST_TIMEOUT_MS, t);
    });

    it('a chunked body trickled chunk by chunk → 408 at requestTimeoutMs', async (t) => {
      const answer = await converse(port, [
        `${publishHead(REFUSED, ['Transfer-Encoding: chunked'])}\r\n\r\n`,
        ...Array.from({ length: 100 }, () => ['1\r\nx\r\n', 100] as Step[]).flat(),
      ]);
      assertProblem(answer, 408, 'GW_ERR_REQUEST_TIMEOUT');
      within(answer, REQUEST_TIMEOUT_MS, t);
    });

    it('200 connections that sent half a body are all closed at requestTimeoutMs', async (t) => {
      const halfBody = `${publishHead(REFUSED, ['Content-Length: 200'])}\r\n\r\n${'y'.repeat(100)}`;
      const answers = await Promise.all(
        Array.from({ length: 200 }, () => converse(port, [halfBody, 60_000])),
      );
      const times = answers.map((a) => a.closedAfterMs).sort((a, b) => a - b);
      for (const answer of answers) assertProblem(answer, 408, 'GW_ERR_REQUEST_TIMEOUT');
      t.diagnostic(`closed after ${times[0]}–${times.at(-1)} ms (timeout ${REQUEST_TIMEOUT_MS} ms)`);
      assert.ok(times[0]! >= REQUEST_TIMEOUT_MS - 100, `first closed after ${times[0]} ms`);
      assert.ok(times.at(-1)! <= REQUEST_TIMEOUT_MS + SLACK_MS, `last closed after ${times.at(-1)} ms`);
    });

    it('a complete request is answered however long it took to arrive within the limit', async () => {
      const body = '{"slow":true}';
      const answer = await converse(port, [
        `${publishHead('slow.ok', [`Content-Length: ${body.length}`, 'Connection: close'])}\r\n\r\n`,
        ...trickle(body, 100),
      ]);
      assert.equal(answer.status, 201, answer.raw.slice(0, 300));
    });
  });

  describe("a chunked body declaring more than the route's limit → 413 at once", () => {
    const chunkedHead = `${publishHead('small.refused', ['Transfer-Encoding: chunked'])}\r\n\r\n`;

    it('one chunk declaring 4 GB, then nothing', async () => {
      const answer = await converse(port, [`${chunkedHead}100000000\r\nab`, 60_000]);
      assertProblem(answer, 413, 'GW_ERR_BODY_TOO_LARGE');
      assert.ok(answer.closedAfterMs < 1_000, `413 after ${answer.closedAfterMs} ms`);
      assert.match(String(answer.problem?.detail), /declares chunks of 4294967296 bytes/);
    });

    it('the size line in a later packet than the head', async () => {
      const answer = await converse(port, [chunkedHead, 200, '10', 100, '000;ext=1\r\nabc', 60_000]);
      assertProblem(answer, 413, 'GW_ERR_BODY_TOO_LARGE');
      assert.ok(answer.closedAfterMs < 1_500, `413 after ${answer.closedAfterMs} ms`);
    });

    it('small chunks whose declared sizes add up past the limit', async () => {
      const chunk = `200\r\n${'c'.repeat(0x200)}\r\n`; // 512 bytes each; the limit is 1024
      const answer = await converse(port, [chunkedHead, chunk, 100, chunk, 100, '200\r\nccc', 60_000]);
      assertProblem(answer, 413, 'GW_ERR_BODY_TOO_LARGE');
      assert.ok(answer.closedAfterMs < 1_500, `413 after ${answer.closedAfterMs} ms`);
    });

    it('a chunked body within the limit, with extensions and trailers, is stored whole', async () => {
      const head = `${publishHead('small.ok', ['Transfer-Encoding: chunked', 'Connection: close'])}\r\n\r\n`;
      const answer = await converse(port, [
        head,
        '1FF;name="x"\r\n',
        'd'.repeat(0x1ff),
        '\r\n',
        50,
        '201\r\n' + 'e'.repeat(0x201) + '\r\n0\r\nX-Trailer: t\r\n\r\n',
      ]);
      assert.equal(answer.status, 201, answer.raw.slice(0, 300));
      const page = (await (
        await fetch(`${gw.url}/v1/topics/small.ok/messages`, { headers: auth() })
      ).json()) as { messages: Array<{ value: string }> };
      assert.equal(page.messages[0]?.value, 'd'.repeat(0x1ff) + 'e'.repeat(0x201));
    });

    it('a head split over two packets is not watched: still bounded by requestTimeoutMs', async () => {
      const answer = await converse(port, [
        chunkedHead.slice(0, 20),
        200,
        `${chunkedHead.slice(20)}100000000\r\nab`,
        60_000,
      ]);
      assertProblem(answer, 408, 'GW_ERR_REQUEST_TIMEOUT');
      assert.ok(
        answer.closedAfterMs <= REQUEST_TIMEOUT_MS + SLACK_MS,
        `closed after ${answer.closedAfterMs} ms`,
      );
    });
  });

  it('a reload applies new server limits to the next connections', async () => {
    writeGatewayConfig(gw.dir, config({ maxHeadersCount: 40, maxHeaderSize: 2048 }));
    const reloaded = await gw.gateway.reload();
    assert.equal(reloaded.outcome, 'applied', JSON.stringify(reloaded));
    try {
      const fields = Array.from({ length: 40 }, (_, i) => `X-F${i}: v`).join('\r\n');
      assertProblem(
        await converse(port, [`GET /livez HTTP/1.1\r\nHost: gateway\r\n${fields}\r\n\r\n`]),
        431,
        'GW_ERR_HEADERS_TOO_LARGE',
      );
      const big = `GET /livez HTTP/1.1\r\nHost: gateway\r\nX-Big: ${'b'.repeat(3000)}\r\n\r\n`;
      assertProblem(await converse(port, [big]), 431, 'GW_ERR_HEADERS_TOO_LARGE');
    } finally {
      writeGatewayConfig(gw.dir, config());
      assert.equal((await gw.gateway.reload()).outcome, 'applied');
    }
  });

  it('the gateway still serves', async () => {
    assert.equal((await fetch(`${gw.url}/livez`)).status, 200);
  });
});
