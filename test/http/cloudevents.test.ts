/**
 * CloudEvents on the v1 publish, end to end on the embedded broker: events sent with the
 * CloudEvents SDK in binary, structured and batched mode, read back (GET /v1/topics/{t}/messages)
 * with their id, exact payload bytes, content type and `ce-*` headers, and decoded again with the
 * SDK's HTTP binding; invalid events are refused with 400; a structured-output route stores the
 * event as application/cloudevents+json.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CloudEvent, HTTP, type CloudEventV1 } from 'cloudevents';
import { assertDocumented } from '../support/openapi.js';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';

const MESSAGES = '/v1/topics/{topic}/messages';

interface Stored {
  id: string;
  key?: string;
  headers: Record<string, string>;
  contentType: string;
  value?: string;
  valueBase64?: string;
}

describe('CloudEvents on POST /v1/topics/{topic}/messages (embedded broker)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        routes: [
          { topic: 'structured.**', target: 'local', cloudEvents: { mode: 'structured' } },
          { topic: '**', target: 'local' },
        ],
        // Not under test; on a busy shared machine event-loop lag would shed requests (503).
        overload: { enabled: false },
      }),
    );
  });
  after(() => gw.stop());

  async function send(topic: string, message: { headers: Record<string, unknown>; body: unknown }) {
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, {
      method: 'POST',
      headers: { ...auth(), ...(message.headers as Record<string, string>) },
      body: message.body as string,
    });
    const json = (await res.json()) as Record<string, unknown>;
    return { res, json };
  }

  async function stored(topic: string): Promise<Stored[]> {
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() });
    assert.equal(res.status, 200);
    return ((await res.json()) as { messages: Stored[] }).messages;
  }

  const bytesOf = (m: Stored) =>
    m.valueBase64 !== undefined ? Buffer.from(m.valueBase64, 'base64') : Buffer.from(m.value!, 'utf8');

  /** The stored message as an HTTP binary-mode message, decoded by the SDK. */
  const decode = (m: Stored) =>
    HTTP.toEvent({
      headers: { ...m.headers, 'content-type': m.contentType },
      body: m.value ?? bytesOf(m),
    }) as CloudEvent;

  const event = (extra: Partial<CloudEventV1<unknown>> = {}) =>
    new CloudEvent({
      id: `evt-${Math.random().toString(36).slice(2, 10)}`,
      source: '/orders/service',
      type: 'com.example.order.created',
      subject: 'order-42',
      datacontenttype: 'application/json',
      data: { order: 42, big: 1 },
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      region: 'eu1',
      ...extra,
    });

  it('binary mode (HTTP.binary): the event id is the message id; attributes are ce-* headers', async () => {
    const ce = event();
    const { res, json } = await send('ce.binary', HTTP.binary(ce));
    assert.equal(res.status, 201, JSON.stringify(json));
    assertDocumented(MESSAGES, 'post', res, json);
    assert.equal(json.id, ce.id);
    const [m] = await stored('ce.binary');
    assert.equal(m!.id, ce.id);
    assert.equal(m!.contentType, 'application/json');
    assert.deepEqual(JSON.parse(bytesOf(m!).toString()), { order: 42, big: 1 });
    assert.equal(m!.headers['ce-id'], ce.id);
    assert.equal(m!.headers['ce-specversion'], '1.0');
    assert.equal(m!.headers['ce-source'], '/orders/service');
    assert.equal(m!.headers['ce-region'], 'eu1');
    assert.equal(m!.headers['ce-traceparent'], ce.traceparent);
    const back = decode(m!);
    assert.equal(back.id, ce.id);
    assert.equal(back.type, ce.type);
    assert.equal(back.source, ce.source);
    assert.equal(back.subject, ce.subject);
    assert.equal(back.region, 'eu1');
    assert.deepEqual(back.data, ce.data);
  });

  it('binary mode is deduplicated by event id: the same event twice is one message id', async () => {
    const ce = event();
    const first = await send('ce.dedup', HTTP.binary(ce));
    const second = await send('ce.dedup', HTTP.binary(ce));
    assert.equal(first.json.id, ce.id);
    assert.equal(second.json.id, ce.id);
  });

  it('structured mode (HTTP.structured): data is the payload as the client wrote it', async () => {
    const ce = event();
    const message = HTTP.structured(ce);
    // Exact bytes: a number past 2^53 must not be re-serialized.
    const body = (message.body as string).replace('"big":1', '"big":12345678901234567890');
    const { res, json } = await send('ce.structured', { headers: message.headers, body });
    assert.equal(res.status, 201, JSON.stringify(json));
    assertDocumented(MESSAGES, 'post', res, json);
    assert.equal(json.id, ce.id);
    const [m] = await stored('ce.structured');
    assert.equal(m!.id, ce.id);
    assert.equal(m!.contentType, 'application/json');
    assert.equal(bytesOf(m!).toString(), '{"order":42,"big":12345678901234567890}');
    assert.equal(m!.headers['ce-type'], ce.type);
    assert.equal(m!.headers['ce-time'], ce.time);
    assert.equal(m!.headers['ce-datacontenttype'], undefined);
    const back = decode(m!);
    assert.equal(back.id, ce.id);
    assert.equal(back.time, ce.time);
    assert.equal(back.region, 'eu1');
  });

  it('structured mode: data_base64 is decoded, a text string is its UTF-8', async () => {
    const binary = new Uint8Array([0, 1, 2, 254, 255]);
    const b64 = JSON.stringify({
      specversion: '1.0',
      id: 'b64-1',
      source: 's',
      type: 't',
      datacontenttype: 'application/octet-stream',
      data_base64: Buffer.from(binary).toString('base64'),
    });
    const text = JSON.stringify({
      specversion: '1.0',
      id: 'text-1',
      source: 's',
      type: 't',
      datacontenttype: 'text/plain; charset=utf-8',
      data: 'héllo ☕',
    });
    for (const body of [b64, text]) {
      const { res } = await send('ce.data', {
        headers: { 'content-type': 'application/cloudevents+json' },
        body,
      });
      assert.equal(res.status, 201);
    }
    const [a, b] = await stored('ce.data');
    assert.deepEqual(bytesOf(a!), Buffer.from(binary));
    assert.equal(a!.contentType, 'application/octet-stream');
    assert.equal(bytesOf(b!).toString('utf8'), 'héllo ☕');
    assert.equal(b!.contentType, 'text/plain; charset=utf-8');
  });

  it('batched mode: one message per event, answered with per-event results', async () => {
    const events = [event(), event({ datacontenttype: 'text/plain', data: 'two' })];
    const res = await fetch(`${gw.url}/v1/topics/ce.batch/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify(events),
    });
    const json = (await res.json()) as { results: Array<Record<string, unknown>> };
    assert.equal(res.status, 201, JSON.stringify(json));
    assertDocumented(MESSAGES, 'post', res, json);
    assert.deepEqual(
      json.results.map((r) => [r.index, r.id, r.status]),
      [
        [0, events[0]!.id, 'confirmed'],
        [1, events[1]!.id, 'confirmed'],
      ],
    );
    const messages = await stored('ce.batch');
    assert.deepEqual(
      messages.map((m) => m.id),
      events.map((e) => e.id),
    );
    assert.equal(bytesOf(messages[1]!).toString(), 'two');
    assert.equal(messages[1]!.contentType, 'text/plain');
    assert.equal(decode(messages[0]!).type, events[0]!.type);
  });

  for (const [label, headers, code] of [
    ['no ce-source', { 'ce-id': 'x1', 'ce-specversion': '1.0', 'ce-type': 't' }, 'GW_ERR_INVALID_CLOUDEVENT'],
    [
      'specversion 0.3',
      { 'ce-id': 'x1', 'ce-specversion': '0.3', 'ce-source': 's', 'ce-type': 't' },
      'GW_ERR_INVALID_CLOUDEVENT',
    ],
    [
      'ce-id without specversion',
      { 'ce-id': 'x1', 'ce-source': 's', 'ce-type': 't' },
      'GW_ERR_INVALID_CLOUDEVENT',
    ],
    [
      'a Message-Id that differs from ce-id',
      { 'ce-id': 'x1', 'ce-specversion': '1.0', 'ce-source': 's', 'ce-type': 't', 'message-id': 'x2' },
      'GW_ERR_INVALID_MESSAGE_ID',
    ],
    [
      'a bad percent-encoding',
      { 'ce-id': 'x1', 'ce-specversion': '1.0', 'ce-source': 's', 'ce-type': 't', 'ce-subject': '100%' },
      'GW_ERR_INVALID_CLOUDEVENT',
    ],
  ] as const) {
    it(`binary mode with ${label} → 400 ${code}, nothing stored`, async () => {
      const { res, json } = await send('ce.refused', {
        headers: { 'content-type': 'application/json', ...headers },
        body: '{}',
      });
      assert.equal(res.status, 400);
      assert.equal(json.code, code);
      assertDocumented(MESSAGES, 'post', res, json);
    });
  }

  it('binary mode percent-decodes attribute values (HTTP binding §3.1.3.2)', async () => {
    const { res } = await send('ce.percent', {
      headers: {
        'content-type': 'text/plain',
        'ce-id': 'p1',
        'ce-specversion': '1.0',
        'ce-source': 's',
        'ce-type': 't',
        'ce-subject': 'caf%C3%A9%20%E2%98%95',
      },
      body: 'x',
    });
    assert.equal(res.status, 201);
    const [m] = await stored('ce.percent');
    assert.equal(m!.headers['ce-subject'], 'café ☕');
  });

  for (const [label, body] of [
    ['no type', { specversion: '1.0', id: 'a', source: 's' }],
    ['an empty id', { specversion: '1.0', id: '', source: 's', type: 't' }],
    [
      'data and data_base64',
      { specversion: '1.0', id: 'a', source: 's', type: 't', data: 1, data_base64: 'AA==' },
    ],
    ['an object extension', { specversion: '1.0', id: 'a', source: 's', type: 't', ext: { a: 1 } }],
    ['an upper-case attribute name', { specversion: '1.0', id: 'a', source: 's', type: 't', Ext: 'x' }],
    ['an array', [1]],
  ] as const) {
    it(`structured mode with ${label} → 400, nothing stored`, async () => {
      const { res, json } = await send('ce.refused', {
        headers: { 'content-type': 'application/cloudevents+json' },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 400, JSON.stringify(json));
      assertDocumented(MESSAGES, 'post', res, json);
    });
  }

  it('a batch with one invalid event is refused whole (400, its index listed)', async () => {
    const res = await fetch(`${gw.url}/v1/topics/ce.refused/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([event(), { specversion: '1.0', id: 'b', source: 's' }]),
    });
    const json = (await res.json()) as { code: string; errors: Array<{ index: number }> };
    assert.equal(res.status, 400);
    assert.equal(json.code, 'GW_ERR_INVALID_CLOUDEVENT');
    assert.deepEqual(
      json.errors.map((e) => e.index),
      [1],
    );
    assert.equal((await stored('ce.refused')).length, 0);
  });

  it('a route with cloudEvents.mode structured stores the event as application/cloudevents+json', async () => {
    const ce = event();
    const binary = await send('structured.from-binary', HTTP.binary(ce));
    assert.equal(binary.res.status, 201);
    const structuredMessage = HTTP.structured(ce);
    const structured = await send('structured.from-structured', structuredMessage);
    assert.equal(structured.res.status, 201);
    const [fromBinary] = await stored('structured.from-binary');
    const [fromStructured] = await stored('structured.from-structured');
    for (const m of [fromBinary!, fromStructured!]) {
      assert.equal(m.id, ce.id);
      assert.match(m.contentType, /^application\/cloudevents\+json/);
      assert.equal(m.headers['ce-id'], undefined);
      const back = HTTP.toEvent({
        headers: { 'content-type': m.contentType },
        body: bytesOf(m).toString(),
      }) as CloudEvent;
      assert.equal(back.id, ce.id);
      assert.equal(back.source, ce.source);
      assert.equal(back.region, 'eu1');
      assert.deepEqual(back.data, ce.data);
    }
    // Structured in, structured out: the client's exact bytes.
    assert.equal(bytesOf(fromStructured!).toString(), structuredMessage.body);
  });

  it('ce-* headers without ce-id or ce-specversion are plain copied headers, as before', async () => {
    const { res } = await send('ce.partial', {
      headers: { 'content-type': 'application/json', 'ce-type': 'only.a.type' },
      body: '{}',
    });
    assert.equal(res.status, 201);
    const [m] = await stored('ce.partial');
    assert.deepEqual(m!.headers, { 'ce-type': 'only.a.type' });
  });
});
