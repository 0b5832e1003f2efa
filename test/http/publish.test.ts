/** The v1 publish and read API end to end, on the embedded broker, checked against openapi/. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertDocumented } from '../support/openapi.js';
import { auth, startGateway, type TestGateway } from '../support/gateway.js';

const MESSAGES = '/v1/topics/{topic}/messages';
const BATCH = '/v1/topics/{topic}/messages/batch';

describe('publish and read back over HTTP (embedded broker)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await gw.stop();
  });

  async function post(topic: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', ...headers },
      body,
    });
    const json = (await res.json()) as Record<string, unknown>;
    return { res, json };
  }

  it('publishes one JSON message: 201 with a UUIDv7 id and an embedded receipt', async () => {
    const { res, json } = await post('demo.orders', JSON.stringify({ order: 1 }), {
      'message-key': 'customer-7',
    });
    assert.equal(res.status, 201);
    assertDocumented(MESSAGES, 'post', res, json);
    assert.match(String(json.id), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(json.status, 'confirmed');
    assert.equal(json.topic, 'demo.orders');
    assert.deepEqual(json.receipt, { broker: 'embedded', target: 'local', offset: '0' });
    assert.equal(res.headers.get('location'), `/v1/messages/${String(json.id)}`);
    assert.ok(res.headers.get('x-request-id'));
  });

  it('publishes a batch with per-message results in order, then reads all three back', async () => {
    const topic = 'demo.batch';
    const single = await post(topic, JSON.stringify({ n: 0 }));
    assert.equal(single.res.status, 201);
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages/batch`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({
        messages: [
          { key: 'k1', value: { n: 1 }, headers: { 'ce-type': 'demo.created' } },
          { id: 'my-own-id-2', valueBase64: Buffer.from([0, 1, 2, 255]).toString('base64') },
        ],
      }),
    });
    const body = (await res.json()) as { results: Array<Record<string, unknown>> };
    assert.equal(res.status, 201);
    assertDocumented(BATCH, 'post', res, body);
    assert.equal(body.results.length, 2);
    assert.deepEqual(
      body.results.map((r) => [r.index, r.status, (r.receipt as Record<string, unknown>).offset]),
      [
        [0, 'confirmed', '1'],
        [1, 'confirmed', '2'],
      ],
    );
    assert.equal(body.results[1]!.id, 'my-own-id-2');

    const read = await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() });
    const page = (await read.json()) as { messages: Array<Record<string, unknown>>; nextOffset: string };
    assert.equal(read.status, 200);
    assertDocumented(MESSAGES, 'get', read, page);
    assert.deepEqual(
      page.messages.map((m) => [m.offset, m.id, m.value ?? m.valueBase64]),
      [
        ['0', single.json.id, '{"n":0}'],
        ['1', body.results[0]!.id, '{"n":1}'],
        ['2', 'my-own-id-2', 'AAEC/w=='],
      ],
    );
    assert.equal(page.messages[1]!.key, 'k1');
    assert.deepEqual(page.messages[1]!.headers, { 'ce-type': 'demo.created' });
    assert.equal(page.messages[2]!.contentType, 'application/octet-stream');
    assert.equal(page.nextOffset, '3');

    const paged = (await (
      await fetch(`${gw.url}/v1/topics/${topic}/messages?from=1&limit=1`, { headers: auth() })
    ).json()) as {
      messages: Array<Record<string, unknown>>;
      nextOffset: string;
    };
    assert.deepEqual(
      paged.messages.map((m) => m.offset),
      ['1'],
    );
    assert.equal(paged.nextOffset, '2');
  });

  it('keeps the caller Message-Id, CloudEvents headers and trace context, and drops other headers', async () => {
    const topic = 'demo.headers';
    const { res, json } = await post(topic, '"x"', {
      'message-id': 'order-123:v1',
      'ce-source': 'billing',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'x-unlisted': 'not copied',
    });
    assert.equal(res.status, 201);
    assert.equal(json.id, 'order-123:v1');
    const page = (await (
      await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() })
    ).json()) as {
      messages: Array<{ headers: Record<string, string> }>;
    };
    assert.deepEqual(page.messages[0]!.headers, {
      'ce-source': 'billing',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
  });

  it('accepts raw text and binary bodies on content types the route allows', async () => {
    const text = await post('demo.raw', 'plain words', { 'content-type': 'text/plain; charset=utf-8' });
    assert.equal(text.res.status, 201);
    const binary = await post('demo.raw', new Uint8Array([0xde, 0xad]), {
      'content-type': 'application/octet-stream',
    });
    assert.equal(binary.res.status, 201);
    const page = (await (
      await fetch(`${gw.url}/v1/topics/demo.raw/messages`, { headers: auth() })
    ).json()) as {
      messages: Array<Record<string, unknown>>;
    };
    assert.equal(page.messages[0]!.value, 'plain words');
    assert.equal(page.messages[0]!.contentType, 'text/plain; charset=utf-8');
    assert.equal(page.messages[1]!.valueBase64, '3q0=');
  });

  it('answers 207 never for an all-valid batch and refuses a batch with one bad message whole', async () => {
    const topic = 'demo.atomic';
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages/batch`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ value: 1 }, { value: 2, headers: { 'x-bad': 'a\r\nb' } }] }),
    });
    const body = (await res.json()) as { code: string; errors: Array<{ index: number; code: string }> };
    assert.equal(res.status, 400);
    assertDocumented(BATCH, 'post', res, body);
    assert.equal(body.code, 'GW_ERR_INVALID_HEADER');
    assert.deepEqual(
      body.errors.map((e) => [e.index, e.code]),
      [[1, 'GW_ERR_INVALID_HEADER']],
    );
    const read = (await (
      await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() })
    ).json()) as {
      messages: unknown[];
    };
    assert.equal(read.messages.length, 0, 'nothing of an invalid batch may be stored');
  });
});
