/**
 * Bytes in = bytes out for headers (../shared/TESTING.md): a header value the gateway copies onto
 * a message or uses is read as UTF-8 and stored exactly as sent; a value that is not valid UTF-8
 * is refused with 400 and nothing is stored. Repeated singleton headers are 400 on every route.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';
import {
  AUTH,
  JSON_TYPE,
  asResponse,
  assertProblem,
  exchange,
  storedBytes,
  storedMessages,
  type HeaderLine,
} from './integrity-support.js';
import { assertDocumented } from '../support/openapi.js';

const MESSAGES = { path: '/v1/topics/{topic}/messages', method: 'post' } as const;
const ADMIN_KEY = 'integrity-admin-key';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('header values are stored exactly as sent (UTF-8), or refused', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        routes: [{ topic: '**', target: 'local', headers: ['x-note', 'constructor'] }],
        admin: { keys: [ADMIN_KEY] },
        // Not under test; on a busy shared machine event-loop lag would shed requests (503).
        overload: { enabled: false },
      }),
    );
  });
  after(() => gw.stop());

  const publish = (topic: string, headers: readonly HeaderLine[], body = '{"n":1}') =>
    exchange(gw.url, { path: `/v1/topics/${topic}/messages`, headers: [AUTH, JSON_TYPE, ...headers], body });

  it('keeps a Cyrillic key, fullwidth and ZWJ ce-* values, an RTL override and a BOM exactly', async () => {
    const topic = 'integrity.utf8';
    const sent = {
      key: 'ключ-42',
      'ce-subject': 'ＡＢＣ１２３',
      'ce-type': 'dev\u200d👩\u200d💻',
      'x-note': '\u202eevil.exe',
      tracestate: 'vendor=\ufeffé',
    };
    const answer = await publish(topic, [
      ['Message-Key', sent.key],
      ['ce-subject', sent['ce-subject']],
      ['ce-type', sent['ce-type']],
      ['x-note', sent['x-note']],
      ['tracestate', sent.tracestate],
    ]);
    assert.equal(answer.status, 201, answer.body.toString());
    assertDocumented(MESSAGES.path, MESSAGES.method, asResponse(answer), answer.json);
    const [stored] = await storedMessages(gw.url, topic);
    assert.equal(stored!.id, answer.json!.id);
    assert.equal(stored!.key, sent.key);
    assert.deepEqual(stored!.headers, {
      'ce-subject': sent['ce-subject'],
      'ce-type': sent['ce-type'],
      'x-note': sent['x-note'],
      tracestate: sent.tracestate,
    });
    assert.deepEqual(storedBytes(stored!), Buffer.from('{"n":1}'));
  });

  it('keeps a Content-Type parameter with UTF-8 text exactly', async () => {
    const topic = 'integrity.content-type';
    const type = 'text/plain; charset=utf-8; title="café ☕"';
    const alone = await exchange(gw.url, {
      path: `/v1/topics/${topic}/messages`,
      headers: [AUTH, ['Content-Type', type]],
      body: 'plain',
    });
    assert.equal(alone.status, 201, alone.body.toString());
    const stored = await storedMessages(gw.url, topic);
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.contentType, type);
  });

  for (const [label, header, value, code] of [
    ['Message-Key with a latin1 byte (0xFF)', 'Message-Key', bytes(0x6b, 0xff), 'GW_ERR_INVALID_MESSAGE_KEY'],
    [
      'Message-Key with an encoded surrogate (ED A0 80)',
      'Message-Key',
      bytes(0xed, 0xa0, 0x80),
      'GW_ERR_INVALID_MESSAGE_KEY',
    ],
    ['ce-source with a lone continuation byte', 'ce-source', bytes(0x61, 0x80), 'GW_ERR_INVALID_HEADER'],
    [
      'traceparent with a truncated sequence',
      'traceparent',
      bytes(0x30, 0xe2, 0x82),
      'GW_ERR_INVALID_HEADER',
    ],
    [
      'tracestate with an overlong "/" (C0 AF)',
      'tracestate',
      bytes(0x61, 0x3d, 0xc0, 0xaf),
      'GW_ERR_INVALID_HEADER',
    ],
    ['a route-copied header with 0xFE', 'x-note', bytes(0xfe), 'GW_ERR_INVALID_HEADER'],
    [
      'Content-Type with a latin1 parameter',
      'Content-Type',
      Buffer.from('application/json; x=\xe9', 'latin1'),
      'GW_ERR_INVALID_HEADER',
    ],
    ['Message-Id with valid UTF-8 outside its alphabet', 'Message-Id', 'id-é', 'GW_ERR_INVALID_MESSAGE_ID'],
    ['Message-Id with invalid UTF-8', 'Message-Id', bytes(0x61, 0xff), 'GW_ERR_INVALID_MESSAGE_ID'],
    [
      'Idempotency-Key with non-ASCII (visible ASCII only)',
      'Idempotency-Key',
      'ключ',
      'GW_ERR_IDEMPOTENCY_KEY_INVALID',
    ],
  ] as const) {
    it(`${label} → 400 ${code}, nothing stored`, async () => {
      const topic = 'integrity.refused';
      const headers: HeaderLine[] = header === 'Content-Type' ? [AUTH] : [AUTH, JSON_TYPE];
      const answer = await exchange(gw.url, {
        path: `/v1/topics/${topic}/messages`,
        headers: [...headers, [header, value]],
        body: '{"n":1}',
      });
      assertProblem(answer, 400, code, MESSAGES);
      assert.equal((await storedMessages(gw.url, topic)).length, 0);
    });
  }

  it('a header named constructor is an ordinary name: copied and stored', async () => {
    const topic = 'integrity.names';
    const answer = await publish(topic, [['constructor', 'kept']]);
    assert.equal(answer.status, 201, answer.body.toString());
    const [stored] = await storedMessages(gw.url, topic);
    assert.deepEqual(stored!.headers, { constructor: 'kept' });
  });

  describe('a repeated singleton header → 400 on every route, nothing stored', () => {
    for (const [header, first, second, code] of [
      ['Authorization', AUTH[1] as string, 'Bearer wrong-key', 'GW_ERR_BAD_REQUEST'],
      ['Authorization', AUTH[1] as string, AUTH[1] as string, 'GW_ERR_BAD_REQUEST'],
      ['Content-Type', 'application/json', 'application/json', 'GW_ERR_BAD_REQUEST'],
      ['Message-Key', 'a', 'b', 'GW_ERR_INVALID_MESSAGE_KEY'],
      ['Message-Id', 'id-1', 'id-1', 'GW_ERR_INVALID_MESSAGE_ID'],
      ['Idempotency-Key', 'k1', 'k2', 'GW_ERR_IDEMPOTENCY_KEY_INVALID'],
    ] as const) {
      it(`${header} twice (${first === second ? 'same value' : 'different values'}) → ${code}`, async () => {
        const topic = 'integrity.singletons';
        const others: HeaderLine[] = [AUTH, JSON_TYPE].filter(([name]) => name !== header);
        const answer = await exchange(gw.url, {
          path: `/v1/topics/${topic}/messages`,
          headers: [...others, [header, first], [header.toLowerCase(), second]],
          body: '{"n":1}',
        });
        assertProblem(answer, 400, code, MESSAGES);
        assert.equal((await storedMessages(gw.url, topic)).length, 0);
      });
    }

    it('Transfer-Encoding twice → 400 GW_ERR_BAD_REQUEST and the connection is closed', async () => {
      const answer = await exchange(gw.url, {
        path: '/v1/topics/integrity.singletons/messages',
        headers: [AUTH, JSON_TYPE, ['Transfer-Encoding', 'gzip'], ['Transfer-Encoding', 'chunked']],
        body: '7\r\n{"n":1}\r\n0\r\n\r\n',
      });
      assertProblem(answer, 400, 'GW_ERR_BAD_REQUEST', MESSAGES);
      assert.equal(answer.headers.connection, 'close');
      assert.equal((await storedMessages(gw.url, 'integrity.singletons')).length, 0);
    });

    it('batch, GET /v1/messages/{id}, reads and the admin API refuse two Authorization headers', async () => {
      const twice = (key: string): HeaderLine[] => [
        ['Authorization', `Bearer ${key}`],
        ['Authorization', `Bearer ${key}`],
      ];
      const batch = await exchange(gw.url, {
        path: '/v1/topics/integrity.singletons/messages/batch',
        headers: [...twice('dev-key'), JSON_TYPE],
        body: '{"messages":[{"value":1}]}',
      });
      assertProblem(batch, 400, 'GW_ERR_BAD_REQUEST', {
        path: '/v1/topics/{topic}/messages/batch',
        method: 'post',
      });
      const status = await exchange(gw.url, {
        method: 'GET',
        path: '/v1/messages/some-id',
        headers: twice('dev-key'),
      });
      assertProblem(status, 400, 'GW_ERR_BAD_REQUEST');
      const read = await exchange(gw.url, {
        method: 'GET',
        path: '/v1/topics/integrity.singletons/messages',
        headers: twice('dev-key'),
      });
      assertProblem(read, 400, 'GW_ERR_BAD_REQUEST');
      const admin = await exchange(gw.url, {
        method: 'GET',
        path: '/admin/v1/breakers',
        headers: twice(ADMIN_KEY),
      });
      assertProblem(admin, 400, 'GW_ERR_BAD_REQUEST');
      // Once is fine.
      const once = await exchange(gw.url, {
        method: 'GET',
        path: '/admin/v1/breakers',
        headers: [['Authorization', `Bearer ${ADMIN_KEY}`]],
      });
      assert.equal(once.status, 200, once.body.toString());
      assert.equal((await storedMessages(gw.url, 'integrity.singletons')).length, 0);
    });
  });
});

describe('a repeated Content-Length (refused by the HTTP parser)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(embeddedConfig({ overload: { enabled: false } }));
  });
  after(async () => {
    // Known issue outside this suite (gateway/http/client-errors.ts): after a parser-refused
    // request the server-side socket is paused and only destroyed by an unref'd linger timer, so
    // stop() waits on server.close() with nothing holding the event loop. A ref'd timer keeps the
    // loop alive until the linger has run; remove it once that is fixed.
    const hold = setInterval(() => {}, 100);
    try {
      await gw.stop();
    } finally {
      clearInterval(hold);
    }
  });

  it('→ 400 problem+json, nothing stored', async () => {
    const answer = await exchange(gw.url, {
      path: '/v1/topics/integrity.singletons/messages',
      headers: [AUTH, JSON_TYPE, ['Content-Length', '7'], ['Content-Length', '7']],
      body: '{"n":1}',
    });
    assertProblem(answer, 400, 'GW_ERR_BAD_REQUEST');
    assert.equal((await storedMessages(gw.url, 'integrity.singletons')).length, 0);
  });
});
