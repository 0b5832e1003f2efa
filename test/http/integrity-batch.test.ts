/**
 * Bytes in = bytes out for bodies (../shared/TESTING.md): each batch value reaches the broker as
 * the exact bytes the client wrote for it (never re-serialized), a JSON body that is not UTF-8 is
 * 400, keys and header values must be well-formed Unicode, header names from a batch are ordinary
 * names (`__proto__` refused, `constructor` kept), and every batch result names its status URL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';
import { assertDocumented } from '../support/openapi.js';
import {
  AUTH,
  JSON_TYPE,
  asResponse,
  assertProblem,
  exchange,
  storedBytes,
  storedMessages,
  type Answer,
} from './integrity-support.js';

const SINGLE = { path: '/v1/topics/{topic}/messages', method: 'post' } as const;
const BATCH = { path: '/v1/topics/{topic}/messages/batch', method: 'post' } as const;

describe('batch values, JSON bodies and batch headers are stored exactly, or refused', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        routes: [
          { topic: 'async.**', target: 'local', allowAsync: true },
          { topic: '**', target: 'local' },
        ],
        // Not under test; on a busy shared machine event-loop lag would shed requests (503).
        overload: { enabled: false },
      }),
    );
  });
  after(() => gw.stop());

  const batch = (topic: string, body: string | Uint8Array, extra: [string, string][] = []) =>
    exchange(gw.url, {
      path: `/v1/topics/${topic}/messages/batch`,
      headers: [AUTH, JSON_TYPE, ...extra],
      body,
    });

  function accepted(answer: Answer, status = 201): Array<Record<string, unknown>> {
    assert.equal(answer.status, status, answer.body.toString());
    assertDocumented(BATCH.path, BATCH.method, asResponse(answer), answer.json);
    return answer.json!.results as Array<Record<string, unknown>>;
  }

  it('stores each value as the bytes written for it: big integers, 1e999999, -0, 0.1e1, spacing, escapes', async () => {
    const topic = 'integrity.values';
    // The exact text of each value, as written inside the body.
    const values = [
      '12345678901234567890123',
      '1e999999',
      '-0',
      '0.1e1',
      '1.000',
      '{"b" : [1 ,2.50], "a":"ж\\u00e9"}',
      '"\\ud800 is a valid JSON escape"',
      '"é, 中文, 😀"',
      '[ ]',
      'null',
    ];
    const body = `{ "messages" : [ ${values.map((v) => `{"value":  ${v}\n}`).join(' ,\t')} ] }`;
    const results = accepted(await batch(topic, body));
    const stored = await storedMessages(gw.url, topic);
    assert.equal(stored.length, values.length);
    stored.forEach((message, i) => {
      assert.equal(message.id, results[i]!.id);
      assert.equal(message.contentType, 'application/json');
      assert.deepEqual(storedBytes(message), Buffer.from(values[i]!, 'utf8'), `message ${i}`);
    });
  });

  it('takes the value JSON.parse takes: the last duplicate, an escaped name', async () => {
    const topic = 'integrity.duplicates';
    const body =
      '{"messages":[{"value":1,"value": 2.0},{"v\\u0061lue":"x"}],"messages":[{"value":"first"},{"value":[3],"v\\u0061lue":4e0}]}';
    accepted(await batch(topic, body));
    const stored = await storedMessages(gw.url, topic);
    assert.deepEqual(
      stored.map((m) => storedBytes(m).toString('utf8')),
      ['"first"', '4e0'],
    );
  });

  it('a string value with a non-JSON content type is its UTF-8 text, as documented', async () => {
    const topic = 'integrity.text';
    const body =
      '{"messages":[{"value":"h\\u00e9llo\\n\\"w\\" 😀","contentType":"text/plain; charset=utf-8"}]}';
    accepted(await batch(topic, body));
    const [stored] = await storedMessages(gw.url, topic);
    assert.deepEqual(storedBytes(stored!), Buffer.from('héllo\n"w" 😀', 'utf8'));
  });

  for (const [label, message, code] of [
    ['a key with a lone surrogate', '{"key":"k\\udc00","value":1}', 'GW_ERR_INVALID_MESSAGE_KEY'],
    [
      'a header value with a lone surrogate',
      '{"headers":{"ce-type":"a\\ud800"},"value":1}',
      'GW_ERR_INVALID_HEADER',
    ],
    [
      'a text value with a lone surrogate',
      '{"value":"\\ud83d","contentType":"text/plain"}',
      'GW_ERR_INVALID_BATCH',
    ],
    ['a header named __proto__', '{"headers":{"__proto__":"x"},"value":1}', 'GW_ERR_INVALID_HEADER'],
  ] as const) {
    it(`${label} → 400 ${code} naming the message, nothing stored`, async () => {
      const topic = 'integrity.refused';
      const answer = await batch(topic, `{"messages":[{"value":0},${message}]}`);
      const problem = assertProblem(answer, 400, code, BATCH);
      assert.deepEqual(
        (problem.errors as Array<Record<string, unknown>>).map((e) => [e.index, e.code]),
        [[1, code]],
      );
      assert.equal((await storedMessages(gw.url, topic)).length, 0);
    });
  }

  it('header names such as constructor and valueof are ordinary names: stored exactly', async () => {
    const topic = 'integrity.names';
    const headers = { constructor: 'c', valueof: 'v', hasownproperty: 'h', tostring: 't' };
    accepted(await batch(topic, JSON.stringify({ messages: [{ value: 1, headers }] })));
    const [stored] = await storedMessages(gw.url, topic);
    assert.deepEqual(stored!.headers, headers);
  });

  describe('a JSON body that is not UTF-8 → 400 GW_ERR_INVALID_JSON, nothing stored', () => {
    const invalid: [string, number[]][] = [
      ['a latin1 byte', [0xe9]],
      ['a lone continuation byte', [0x80]],
      ['an encoded surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
      ['an overlong encoding (C0 AF)', [0xc0, 0xaf]],
      ['a truncated sequence', [0xe2, 0x82]],
    ];
    const inString = (raw: number[], before: string, after: string) =>
      Buffer.concat([Buffer.from(before), Buffer.from(raw), Buffer.from(after)]);

    for (const [label, raw] of invalid) {
      it(`single publish with ${label}`, async () => {
        const topic = 'integrity.not-utf8';
        const answer = await exchange(gw.url, {
          path: `/v1/topics/${topic}/messages`,
          headers: [AUTH, JSON_TYPE],
          body: inString(raw, '{"a":"', '"}'),
        });
        assertProblem(answer, 400, 'GW_ERR_INVALID_JSON', SINGLE);
        assert.equal((await storedMessages(gw.url, topic)).length, 0);
      });

      it(`batch with ${label} in a value`, async () => {
        const topic = 'integrity.not-utf8';
        const answer = await batch(topic, inString(raw, '{"messages":[{"value":"', '"}]}'));
        assertProblem(answer, 400, 'GW_ERR_INVALID_JSON', BATCH);
        assert.equal((await storedMessages(gw.url, topic)).length, 0);
      });
    }

    it('a +json body too', async () => {
      const answer = await exchange(gw.url, {
        path: '/v1/topics/integrity.not-utf8/messages',
        headers: [AUTH, ['Content-Type', 'application/cloudevents+json']],
        body: inString([0xff], '{"a":"', '"}'),
      });
      assertProblem(answer, 400, 'GW_ERR_INVALID_JSON', SINGLE);
    });
  });

  it('single publish keeps a valid JSON body with a lone-surrogate escape byte for byte', async () => {
    const topic = 'integrity.single';
    const body = '{"s":"\\ud800", "big": 12345678901234567890, "z": -0 }';
    const answer = await exchange(gw.url, {
      path: `/v1/topics/${topic}/messages`,
      headers: [AUTH, JSON_TYPE],
      body,
    });
    assert.equal(answer.status, 201, answer.body.toString());
    const [stored] = await storedMessages(gw.url, topic);
    assert.deepEqual(storedBytes(stored!), Buffer.from(body));
  });

  describe('batch results', () => {
    it('every confirmed result names its status URL, which answers for that message', async () => {
      const results = accepted(
        await batch(
          'integrity.status',
          JSON.stringify({ messages: [{ value: 1 }, { id: 'own-id:1', value: 2 }] }),
        ),
      );
      assert.deepEqual(
        results.map((r) => [r.index, r.status, r.statusUrl]),
        [
          [0, 'confirmed', `/v1/messages/${String(results[0]!.id)}`],
          [1, 'confirmed', '/v1/messages/own-id%3A1'],
        ],
      );
      for (const result of results) {
        const res = await fetch(`${gw.url}${String(result.statusUrl)}`, { headers: auth() });
        const status = (await res.json()) as Record<string, unknown>;
        assert.equal(res.status, 200);
        assertDocumented('/v1/messages/{id}', 'get', res, status);
        assert.deepEqual([status.id, status.status], [result.id, 'confirmed']);
      }
    });

    it('queued results (202) name theirs too', async () => {
      const results = accepted(
        await batch('async.status', '{"messages":[{"value":1},{"value":2}]}', [['Prefer', 'respond-async']]),
        202,
      );
      for (const result of results) {
        assert.equal(result.status, 'queued');
        assert.equal(result.statusUrl, `/v1/messages/${String(result.id)}`);
      }
    });

    it("a duplicate id after an invalid message is reported at the duplicate's own index", async () => {
      const topic = 'integrity.indexes';
      const body = JSON.stringify({
        messages: [{ id: 'same', value: 0 }, { key: '', value: 1 }, { value: 2 }, { id: 'same', value: 3 }],
      });
      const problem = assertProblem(await batch(topic, body), 400, 'GW_ERR_INVALID_BATCH', BATCH);
      assert.deepEqual(
        (problem.errors as Array<Record<string, unknown>>).map((e) => [e.index, e.code]),
        [
          [1, 'GW_ERR_INVALID_MESSAGE_KEY'],
          [3, 'GW_ERR_INVALID_MESSAGE_ID'],
        ],
      );
      assert.equal((await storedMessages(gw.url, topic)).length, 0);
    });
  });
});
