/**
 * Content-Encoding (../shared/TESTING.md, "Bytes in = bytes out" and "Bad input"): a compressed
 * body is decoded and the decoded bytes are what the broker stores, read back and compared; a
 * coding the route does not decode is refused with 415 and Accept-Encoding; data that does not
 * decode → 400; a decompression bomb → 413 after at most the route's limit of output, quickly,
 * with the process's memory flat. Nothing refused reaches the broker.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  brotliCompressSync,
  constants,
  createBrotliCompress,
  createDeflate,
  createGzip,
  deflateRawSync,
  deflateSync,
  gzipSync,
} from 'node:zlib';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';
import { assertDocumented } from '../support/openapi.js';

const MESSAGES = '/v1/topics/{topic}/messages';
const REFUSED = 'refused.enc';
const LIMIT = 256 * 1024;

const ENCODERS = {
  gzip: (data: Buffer) => gzipSync(data),
  'x-gzip': (data: Buffer) => gzipSync(data),
  deflate: (data: Buffer) => deflateSync(data),
  br: (data: Buffer) => brotliCompressSync(data),
} as const;

interface Stored {
  value?: string;
  valueBase64?: string;
  contentType?: string;
  headers: Record<string, string>;
}

describe('Content-Encoding: decoded within the limit, or refused; never stored encoded', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        routes: [
          { topic: 'none.*', target: 'local', contentEncodings: [] },
          { topic: 'gzip-only.*', target: 'local', contentEncodings: ['gzip'] },
          { topic: '**', target: 'local', maxBodyBytes: LIMIT },
        ],
      }),
    );
  });
  after(async () => {
    const refused = await stored(REFUSED);
    await gw.stop();
    assert.equal(refused.length, 0, 'a refused request reached the broker');
  });

  async function stored(topic: string): Promise<Stored[]> {
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages?limit=1000`, { headers: auth() });
    assert.equal(res.status, 200);
    return ((await res.json()) as { messages: Stored[] }).messages;
  }

  function publish(topic: string, body: Uint8Array, headers: Record<string, string>, path = 'messages') {
    return fetch(`${gw.url}/v1/topics/${topic}/${path}`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/octet-stream', ...headers },
      body,
    });
  }

  async function expectProblem(
    res: Response,
    status: number,
    code: string,
  ): Promise<Record<string, unknown>> {
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, status, JSON.stringify(body));
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(body.code, code);
    assertDocumented(MESSAGES, 'post', res, body);
    return body;
  }

  for (const [coding, encode] of Object.entries(ENCODERS)) {
    it(`a ${coding} body is stored decoded, byte for byte`, async () => {
      const topic = `decoded.${coding}`;
      // Random bytes (every value, incompressible) and a long compressible run.
      const payload = Buffer.concat([randomBytes(40_000), Buffer.alloc(100_000, 'pubgate ')]);
      const res = await publish(topic, encode(payload), { 'content-encoding': coding });
      assert.equal(res.status, 201, await res.text());
      const [message] = await stored(topic);
      assert.ok(message?.valueBase64 !== undefined, 'binary payload expected');
      assert.ok(
        Buffer.from(message.valueBase64, 'base64').equals(payload),
        'stored bytes differ from the decoded body',
      );
      assert.equal(message.contentType, 'application/octet-stream');
      assert.equal(
        Object.keys(message.headers).some((name) => /encoding/i.test(name)),
        false,
        'nothing on the message should describe the transfer coding',
      );
    });
  }

  it('a gzip JSON body is checked as JSON after decoding; a gzip batch is decoded too', async () => {
    const json = Buffer.from('{"order": 7, "note": "gzip \u00e9t\u00e9"}');
    const one = await publish('decoded.json', gzipSync(json), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    assert.equal(one.status, 201, await one.text());
    const bad = await publish('decoded.json', gzipSync('{"order":'), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    await expectProblem(bad, 400, 'GW_ERR_INVALID_JSON');
    const batch = await publish(
      'decoded.json',
      brotliCompressSync(JSON.stringify({ messages: [{ value: { n: 1 } }, { value: { n: 2 } }] })),
      { 'content-type': 'application/json', 'content-encoding': 'br' },
      'messages/batch',
    );
    assert.equal(batch.status, 201, await batch.text());
    const messages = await stored('decoded.json');
    assert.deepEqual(
      messages.map((m) => m.value),
      ['{"order": 7, "note": "gzip \u00e9t\u00e9"}', '{"n":1}', '{"n":2}'],
    );
  });

  it('Content-Encoding: identity (or empty) is the plain body', async () => {
    for (const value of ['identity', 'Identity', '']) {
      assert.equal(
        (await publish('decoded.identity', Buffer.from('plain'), { 'content-encoding': value })).status,
        201,
      );
    }
    assert.deepEqual(
      (await stored('decoded.identity')).map((m) => Buffer.from(m.valueBase64 ?? '', 'base64').toString()),
      ['plain', 'plain', 'plain'],
    );
  });

  for (const [label, value] of [
    ['an unknown coding', 'zstd'],
    ['compress', 'compress'],
    ['a made-up token', 'snappy-ish'],
    ['two codings', 'gzip, br'],
    ['two coding headers folded by the client', 'gzip,gzip'],
  ] as const) {
    it(`${label} (${value}) → 415 with Accept-Encoding`, async () => {
      const res = await publish(REFUSED, gzipSync('x'), { 'content-encoding': value });
      const body = await expectProblem(res, 415, 'GW_ERR_UNSUPPORTED_ENCODING');
      assert.equal(res.headers.get('accept-encoding'), 'gzip, deflate, br, identity');
      assert.match(String(body.detail), value.includes(',') ? /more than one/ : /not supported/);
    });
  }

  it('a coding the route does not list → 415 naming what it accepts', async () => {
    const none = await publish('none.enc', gzipSync('x'), { 'content-encoding': 'gzip' });
    await expectProblem(none, 415, 'GW_ERR_UNSUPPORTED_ENCODING');
    assert.equal(none.headers.get('accept-encoding'), 'identity');
    const gzipOnly = await publish('gzip-only.enc', brotliCompressSync('x'), { 'content-encoding': 'br' });
    const body = await expectProblem(gzipOnly, 415, 'GW_ERR_UNSUPPORTED_ENCODING');
    assert.equal(gzipOnly.headers.get('accept-encoding'), 'gzip, identity');
    assert.match(String(body.detail), /not accepted on this route/);
    assert.equal(
      (await publish('gzip-only.enc', gzipSync('ok'), { 'content-encoding': 'gzip' })).status,
      201,
    );
    assert.equal((await stored('none.enc')).length, 0);
  });

  const whole = gzipSync('a whole message');
  for (const [label, coding, body] of [
    ['not gzip at all', 'gzip', Buffer.from('plain text, not gzip')],
    ['truncated gzip', 'gzip', whole.subarray(0, whole.length - 6)],
    ['bytes after the end of the gzip data', 'gzip', Buffer.concat([whole, Buffer.from('trailing')])],
    [
      'bytes after the end of the deflate data',
      'deflate',
      Buffer.concat([deflateSync('x'), Buffer.from('junk')]),
    ],
    [
      'bytes after the end of the brotli data',
      'br',
      Buffer.concat([brotliCompressSync('x'), Buffer.from('junk')]),
    ],
    ['raw deflate (deflate is the zlib format)', 'deflate', deflateRawSync('raw')],
    ['corrupt brotli', 'br', Buffer.from('definitely not brotli')],
    ['an empty gzip body', 'gzip', Buffer.alloc(0)],
  ] as const) {
    it(`${label} → 400 GW_ERR_INVALID_ENCODING`, async () => {
      const res = await publish(REFUSED, body, { 'content-encoding': coding });
      const problem = await expectProblem(res, 400, 'GW_ERR_INVALID_ENCODING');
      assert.match(String(problem.detail), new RegExp(`not valid ${coding} data`));
    });
  }

  it("a body that decodes to more than the route's limit → 413, though its encoded form is small", async () => {
    const encoded = gzipSync(Buffer.alloc(LIMIT + 1, 'z'));
    assert.ok(encoded.length < LIMIT / 100);
    const problem = await expectProblem(
      await publish(REFUSED, encoded, { 'content-encoding': 'gzip' }),
      413,
      'GW_ERR_BODY_TOO_LARGE',
    );
    assert.match(String(problem.detail), /decodes to more than/);
    // Exactly the limit decoded is fine.
    const exact = await publish('decoded.exact', gzipSync(Buffer.alloc(LIMIT, 'z')), {
      'content-encoding': 'gzip',
    });
    assert.equal(exact.status, 201, await exact.text());
  });

  it('an encoded body over the limit is refused before decoding (Content-Length declared)', async () => {
    const big = gzipSync(randomBytes(LIMIT + 1024), { level: 0 });
    await expectProblem(
      await publish(REFUSED, big, { 'content-encoding': 'gzip' }),
      413,
      'GW_ERR_BODY_TOO_LARGE',
    );
  });

  // 1 GB of zeros per coding, compressed while it is sent: the gateway must stop after the limit.
  for (const [coding, compressor] of [
    ['gzip', () => createGzip({ level: 1 })],
    ['deflate', () => createDeflate({ level: 1 })],
    ['br', () => createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 1 } })],
  ] as const) {
    it(`a ${coding} bomb (1 GB of zeros) → 413 in seconds, memory flat`, async (t) => {
      const rssBefore = process.memoryUsage().rss;
      const started = Date.now();
      const answer = await sendBomb(gw.url, coding, compressor());
      const elapsed = Date.now() - started;
      const rssAfter = process.memoryUsage().rss;
      assert.match(answer, /^HTTP\/1\.1 413 /, answer.slice(0, 200));
      assert.match(answer, /GW_ERR_BODY_TOO_LARGE/);
      assert.ok(elapsed < 10_000, `413 after ${elapsed} ms`);
      // Inflating the bomb would take 1 GB; a bounded decoder stays around the 256 KiB limit. The
      // bound is generous for other allocations of this process (the test compresses too).
      const grown = (rssAfter - rssBefore) / 2 ** 20;
      t.diagnostic(
        `413 after ${elapsed} ms; RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MiB`,
      );
      assert.ok(grown < 96, `RSS grew by ${grown.toFixed(0)} MiB`);
    });
  }

  it('the gateway still serves after the bombs', async () => {
    assert.equal((await fetch(`${gw.url}/livez`)).status, 200);
  });
});

/**
 * POSTs 1 GB of zeros through `compressor`, chunked, over a raw socket, and returns what the
 * gateway answered. Zeros are produced only as fast as the socket takes them, so once the gateway
 * answers and closes, generation stops.
 */
function sendBomb(url: string, coding: string, compressor: NodeJS.ReadWriteStream): Promise<string> {
  const target = new URL(url);
  const total = 2 ** 30;
  const block = Buffer.alloc(1 << 20);
  let produced = 0;
  const zeros = new Readable({
    read() {
      if (produced >= total) return this.push(null);
      produced += block.length;
      this.push(block);
    },
  });
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', () => {}); // the gateway closes while the client still sends: expected
    socket.on('close', () => {
      zeros.destroy();
      resolve(answer);
    });
    socket.setTimeout(30_000, () => reject(new Error('no answer to the bomb within 30 s')));
    socket.write(
      `POST /v1/topics/${REFUSED}/messages HTTP/1.1\r\nHost: ${target.host}\r\n` +
        `Authorization: ${auth().authorization}\r\nContent-Type: application/octet-stream\r\n` +
        `Content-Encoding: ${coding}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    zeros.pipe(compressor).on('data', (chunk: Buffer) => {
      if (socket.destroyed) return;
      const ok =
        socket.write(`${chunk.length.toString(16)}\r\n`) &&
        socket.write(Buffer.concat([chunk, Buffer.from('\r\n')]));
      if (!ok) {
        compressor.pause();
        socket.once('drain', () => compressor.resume());
      }
    });
  });
}
