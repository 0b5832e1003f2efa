/**
 * The Dapr pub/sub HTTP API end to end on the embedded broker: what is stored (read back through
 * GET /v1/topics/{t}/messages), Dapr's answers, auth by dapr-api-token, idempotent retries by
 * CloudEvent id — and the unchanged `@dapr/dapr` SDK publishing through pubgate.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CommunicationProtocolEnum, DaprClient, LogLevel } from '@dapr/dapr';
import { auth, DEV_KEY, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';

interface Stored {
  offset: string;
  id: string;
  key?: string;
  headers: Record<string, string>;
  contentType: string;
  value?: string;
  valueBase64?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function config(patch: Record<string, unknown> = {}) {
  return embeddedConfig({
    // Small enough for one bulk entry to be refused by the broker's size limit.
    brokers: { local: { kind: 'embedded', dir: './data', maxMessageBytes: 2048 } },
    tenants: {
      dev: { keys: [DEV_KEY], topics: ['**'] },
      narrow: { keys: ['narrow-key'], topics: ['allowed.*'] },
    },
    compat: {
      dapr: {
        pubsubs: {
          pubsub: {},
          orders: { topics: ['created', 'eu.*'], prefix: 'orders.' },
        },
      },
    },
    ...patch,
  });
}

describe('Dapr pub/sub HTTP API (embedded broker)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(config());
  });
  after(async () => {
    await gw.stop();
  });

  function publish(
    path: string,
    body: string | Uint8Array,
    headers: Record<string, string> = {},
    method = 'POST',
  ) {
    return fetch(`${gw.url}${path}`, {
      method,
      headers: { 'dapr-api-token': DEV_KEY, ...headers },
      body,
    });
  }

  async function stored(topic: string): Promise<Stored[]> {
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() });
    assert.equal(res.status, 200);
    return ((await res.json()) as { messages: Stored[] }).messages;
  }

  async function daprError(res: Response) {
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    return (await res.json()) as { errorCode: string; message: string; failedEntries?: unknown[] };
  }

  it('wraps a JSON body in Dapr’s CloudEvent, data kept as the bytes sent: 204, empty body', async () => {
    const data = '{"orderId": 12345678901234567890, "x": -0}';
    const res = await publish('/v1.0/publish/pubsub/dapr.single?metadata.partitionKey=cust-1', data, {
      'content-type': 'application/json',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), '');
    const [message] = await stored('dapr.single');
    assert.equal(message!.contentType, 'application/cloudevents+json');
    assert.equal(message!.key, 'cust-1');
    const event = JSON.parse(message!.value!) as Record<string, unknown>;
    assert.equal(event.id, message!.id);
    assert.match(message!.id, UUID);
    assert.equal(event.specversion, '1.0');
    assert.equal(event.type, 'com.dapr.event.sent');
    assert.equal(event.source, 'pubgate');
    assert.equal(event.topic, 'dapr.single');
    assert.equal(event.pubsubname, 'pubsub');
    assert.equal(event.datacontenttype, 'application/json');
    assert.equal(event.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.ok(!Number.isNaN(Date.parse(String(event.time))));
    // The client's bytes, not a re-serialization (which would round the number and drop "-0").
    assert.ok(message!.value!.endsWith(`,"data":${data}}`));
    assert.equal(message!.headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  });

  it('puts text in data, binary in data_base64; cloudevent.* overrides and ttlInSeconds apply', async () => {
    const text = await publish(
      '/v1.0/publish/pubsub/dapr.kinds?metadata.cloudevent.source=checkout&cloudevent.type=order.placed&metadata.ttlInSeconds=60',
      'héllo',
      { 'content-type': 'text/plain; charset=utf-8' },
    );
    assert.equal(text.status, 204);
    const binary = await publish('/v1.0/publish/pubsub/dapr.kinds', new Uint8Array([0, 1, 254, 255]), {
      'content-type': 'application/octet-stream',
    });
    assert.equal(binary.status, 204);
    const [first, second] = await stored('dapr.kinds');
    const one = JSON.parse(first!.value!) as Record<string, unknown>;
    assert.equal(one.data, 'héllo');
    assert.equal(one.source, 'checkout');
    assert.equal(one.type, 'order.placed');
    assert.equal(one.datacontenttype, 'text/plain; charset=utf-8');
    assert.equal(Date.parse(String(one.expiration)) - Date.parse(String(one.time)), 60_000);
    assert.equal(first!.headers['pubgate-ttl-seconds'], '60');
    const two = JSON.parse(second!.value!) as Record<string, unknown>;
    assert.equal(two.data_base64, 'AAH+/w==');
    assert.equal(two.data, undefined);
  });

  it('rawPayload=true publishes the bytes untouched with their own content type (PUT too)', async () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x7b, 0x80]);
    const res = await publish(
      '/v1.0/publish/pubsub/dapr.raw?metadata.rawPayload=true',
      bytes,
      { 'content-type': 'application/octet-stream' },
      'PUT',
    );
    assert.equal(res.status, 204);
    const [message] = await stored('dapr.raw');
    assert.equal(message!.contentType, 'application/octet-stream');
    assert.equal(message!.valueBase64, Buffer.from(bytes).toString('base64'));
    assert.match(message!.id, UUID);
  });

  it('keeps a body that already is a CloudEvent as sent; its id is the message id', async () => {
    const event =
      '{"specversion":"1.0","id":"evt-1","source":"/shop","type":"shop.order","data":{"n":1},"ext":"kept"}';
    const res = await publish('/v1.0/publish/pubsub/dapr.ce', event, {
      'content-type': 'application/cloudevents+json',
    });
    assert.equal(res.status, 204);
    const [message] = await stored('dapr.ce');
    assert.equal(message!.id, 'evt-1');
    assert.equal(message!.value, event);
    assert.equal(message!.contentType, 'application/cloudevents+json');

    const invalid = await publish('/v1.0/publish/pubsub/dapr.ce', '{"id":"x"}', {
      'content-type': 'application/cloudevents+json',
    });
    assert.equal(invalid.status, 400);
    assert.equal((await daprError(invalid)).errorCode, 'ERR_PUBSUB_CLOUD_EVENTS_SER');
  });

  it('a retry with the same CloudEvent id is answered again and published once', async () => {
    const path = '/v1.0/publish/pubsub/dapr.retry?metadata.cloudevent.id=order-77';
    const first = await publish(path, '{"a":1}', { 'content-type': 'application/json' });
    assert.equal(first.status, 204);
    const again = await publish(path, '{"a":1}', { 'content-type': 'application/json' });
    assert.equal(again.status, 204);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    const messages = await stored('dapr.retry');
    assert.deepEqual(
      messages.map((m) => m.id),
      ['order-77'],
    );
    const other = await publish(path, '{"a":2}', { 'content-type': 'application/json' });
    assert.equal(other.status, 422);
    assert.equal((await daprError(other)).errorCode, 'ERR_PUBSUB_IDEMPOTENCY_MISMATCH');
  });

  it('maps a pub/sub name to its topics and prefix; refuses others as Dapr does', async () => {
    const res = await publish('/v1.0/publish/orders/eu.created', '"x"', {
      'content-type': 'application/json',
    });
    assert.equal(res.status, 204);
    const [message] = await stored('orders.eu.created');
    assert.equal((JSON.parse(message!.value!) as { topic: string }).topic, 'eu.created');

    const unknown = await publish('/v1.0/publish/errnotfound/t', 'x');
    assert.equal(unknown.status, 400);
    assert.deepEqual([(await daprError(unknown)).errorCode, unknown.status], ['ERR_PUBSUB_NOT_FOUND', 400]);
    const outside = await publish('/v1.0/publish/orders/deleted', 'x');
    assert.equal(outside.status, 403);
    assert.equal((await daprError(outside)).errorCode, 'ERR_PUBSUB_FORBIDDEN');
    const noTopic = await publish('/v1.0/publish/pubsub', 'x');
    assert.equal(noTopic.status, 404);
    const badMetadata = await publish('/v1.0/publish/pubsub/dapr.meta?metadata.rawPayload=100', 'x');
    assert.equal(badMetadata.status, 400);
    assert.equal((await daprError(badMetadata)).errorCode, 'ERR_PUBSUB_REQUEST_METADATA');
  });

  it('authenticates with dapr-api-token; no or a wrong token → 401, another tenant’s topic → 403', async () => {
    const none = await fetch(`${gw.url}/v1.0/publish/pubsub/dapr.auth`, { method: 'POST', body: 'x' });
    assert.equal(none.status, 401);
    assert.equal((await daprError(none)).errorCode, 'ERR_PUBSUB_UNAUTHENTICATED');
    const wrong = await publish('/v1.0/publish/pubsub/dapr.auth', 'x', { 'dapr-api-token': 'nope' });
    assert.equal(wrong.status, 401);
    // Unknown pub/sub names are not revealed to an unauthenticated caller.
    const probe = await fetch(`${gw.url}/v1.0/publish/secret/t`, { method: 'POST', body: 'x' });
    assert.equal(probe.status, 401);
    const forbidden = await publish('/v1.0/publish/pubsub/dapr.auth', 'x', {
      'dapr-api-token': 'narrow-key',
    });
    assert.equal(forbidden.status, 403);
    assert.equal((await daprError(forbidden)).errorCode, 'ERR_PUBSUB_FORBIDDEN');
    const granted = await publish('/v1.0/publish/pubsub/allowed.one', 'x', {
      'dapr-api-token': 'narrow-key',
    });
    assert.equal(granted.status, 204);
  });

  it('bulk: entryId and entryID, each entry wrapped; one entry too large → failedEntries, 500', async () => {
    const ok = await publish(
      '/v1.0-alpha1/publish/bulk/pubsub/dapr.bulk',
      JSON.stringify([
        { entryId: 'a', event: 'first text', contentType: 'text/plain' },
        { entryID: 'b', event: { n: 2 }, contentType: 'application/json', metadata: { partitionKey: 'k' } },
      ]),
      { 'content-type': 'application/json' },
    );
    assert.equal(ok.status, 204);
    const messages = await stored('dapr.bulk');
    assert.deepEqual(
      messages.map((m) => (JSON.parse(m.value!) as { data: unknown }).data),
      ['first text', { n: 2 }],
    );
    assert.equal(messages[1]!.key, 'k');

    const partial = await publish(
      '/v1.0-alpha1/publish/bulk/pubsub/dapr.bulk',
      JSON.stringify([
        { entryId: 'small', event: 'fits', contentType: 'text/plain' },
        { entryId: 'big', event: 'x'.repeat(4000), contentType: 'text/plain' },
      ]),
      { 'content-type': 'application/json' },
    );
    assert.equal(partial.status, 500);
    const body = (await daprError(partial)) as {
      errorCode: string;
      failedEntries: { entryId: string; entryID: string; error: string }[];
    };
    assert.equal(body.errorCode, 'ERR_PUBSUB_PUBLISH_MESSAGE');
    assert.deepEqual(
      body.failedEntries.map((f) => [f.entryId, f.entryID]),
      [['big', 'big']],
    );
    assert.match(body.failedEntries[0]!.error, /ERR_PUBSUB_MESSAGE_TOO_LARGE/);
    assert.equal((await stored('dapr.bulk')).length, 3);

    const duplicate = await publish(
      '/v1.0-alpha1/publish/bulk/pubsub/dapr.bulk',
      JSON.stringify([
        { entryId: 'a', event: 1 },
        { entryId: 'a', event: 2 },
      ]),
      { 'content-type': 'application/json' },
    );
    assert.equal(duplicate.status, 400);
    const dup = await daprError(duplicate);
    assert.equal(dup.errorCode, 'ERR_PUBSUB_EVENTS_SER');
    assert.match(dup.message, /entryId is duplicated or not present/);
  });

  it('answers metadata (authenticated) and health (open)', async () => {
    const meta = await fetch(`${gw.url}/v1.0/metadata`, { headers: { 'dapr-api-token': DEV_KEY } });
    assert.equal(meta.status, 200);
    const body = (await meta.json()) as { id: string; components: { name: string; type: string }[] };
    assert.equal(body.id, 'pubgate');
    assert.deepEqual(
      body.components.map((c) => c.name),
      ['pubsub', 'orders'],
    );
    assert.equal((await fetch(`${gw.url}/v1.0/metadata`)).status, 401);
    assert.equal((await fetch(`${gw.url}/v1.0/healthz`)).status, 204);
    assert.equal((await fetch(`${gw.url}/v1.0/healthz/outbound`)).status, 204);
    const get = await fetch(`${gw.url}/v1.0/publish/pubsub/t`, { headers: { 'dapr-api-token': DEV_KEY } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST, PUT');
  });

  it('leaves /v1 errors to problem+json', async () => {
    const res = await fetch(`${gw.url}/v1/topics/x/messages`, { method: 'POST', body: 'x' });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
  });

  it('runs the unchanged @dapr/dapr DaprClient: publish and publishBulk, read back', async () => {
    const url = new URL(gw.url);
    const client = new DaprClient({
      daprHost: `${url.protocol}//${url.hostname}`,
      daprPort: url.port,
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      daprApiToken: DEV_KEY,
      logger: { level: LogLevel.Error },
    });
    try {
      const started = Date.now();
      assert.deepEqual(await client.pubsub.publish('pubsub', 'sdk.orders', { orderId: 1 }), {});
      // The SDK's readiness poll (GET /v1.0/metadata) passed at once: no 500 ms retry.
      assert.ok(Date.now() - started < 400, `first publish took ${Date.now() - started} ms`);
      assert.deepEqual(await client.pubsub.publish('pubsub', 'sdk.orders', 'plain text'), {});
      assert.deepEqual(
        await client.pubsub.publish('pubsub', 'sdk.orders', 'raw', {
          contentType: 'text/plain',
          metadata: { rawPayload: 'true', partitionKey: 'p1' },
        }),
        {},
      );
      const bulk = await client.pubsub.publishBulk('pubsub', 'sdk.bulk', [
        'one',
        { entryID: 'two', event: { n: 2 }, contentType: 'application/json' },
      ]);
      assert.deepEqual(bulk.failedMessages, []);
      const partial = await client.pubsub.publishBulk('pubsub', 'sdk.bulk', [
        { entryID: 'fits', event: 'small', contentType: 'text/plain' },
        { entryID: 'too-big', event: 'y'.repeat(4000), contentType: 'text/plain' },
      ]);
      assert.deepEqual(
        partial.failedMessages.map((f) => f.message.entryID),
        ['too-big'],
      );
      assert.match(String(partial.failedMessages[0]!.error), /MESSAGE_TOO_LARGE/);
      const refused = await client.pubsub.publish('nosuch', 'sdk.orders', { orderId: 2 });
      assert.match(String((refused as { error?: Error }).error?.message), /ERR_PUBSUB_NOT_FOUND/);
    } finally {
      await client.stop();
    }

    const orders = await stored('sdk.orders');
    assert.equal(orders.length, 3);
    const [json, text, raw] = orders;
    const jsonEvent = JSON.parse(json!.value!) as Record<string, unknown>;
    assert.equal(json!.contentType, 'application/cloudevents+json');
    assert.equal(jsonEvent.id, json!.id);
    assert.equal(jsonEvent.datacontenttype, 'application/json');
    assert.deepEqual(jsonEvent.data, { orderId: 1 });
    assert.ok(json!.value!.endsWith(',"data":{"orderId":1}}'));
    assert.equal((JSON.parse(text!.value!) as { data: unknown }).data, 'plain text');
    assert.equal(raw!.contentType, 'text/plain');
    assert.equal(raw!.value, 'raw');
    assert.equal(raw!.key, 'p1');

    const bulk = await stored('sdk.bulk');
    assert.deepEqual(
      bulk.map((m) => (JSON.parse(m.value!) as { data: unknown }).data),
      ['one', { n: 2 }, 'small'],
    );
    for (const m of bulk) assert.equal((JSON.parse(m.value!) as { id: string }).id, m.id);
  });
});

describe('Dapr pub/sub HTTP API switched off', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(config({ compat: { dapr: { enabled: false } } }));
  });
  after(async () => {
    await gw.stop();
  });

  it('answers 404 on every Dapr path', async () => {
    for (const path of ['/v1.0/publish/pubsub/t', '/v1.0/metadata', '/v1.0/healthz']) {
      const res = await fetch(`${gw.url}${path}`, {
        method: path.includes('publish') ? 'POST' : 'GET',
        headers: { 'dapr-api-token': DEV_KEY },
        body: path.includes('publish') ? 'x' : null,
      });
      assert.equal(res.status, 404, path);
    }
  });
});
