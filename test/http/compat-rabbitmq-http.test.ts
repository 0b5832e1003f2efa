/**
 * RabbitMQ management publish (COMPAT.md §5) on the embedded broker: the documented request,
 * `{"routed": true}` after the broker confirmed, HTTP Basic with the API key as the password, the
 * management API's own error bodies, and the stored message read back (bytes, id, headers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';

interface Stored {
  id: string;
  key?: string;
  headers: Record<string, string>;
  contentType: string;
  value?: string;
  valueBase64?: string;
}

function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

function config(patch: Record<string, unknown> = {}) {
  return embeddedConfig({
    tenants: {
      dev: { keys: ['dev-key'], topics: ['**'] },
      narrow: { keys: ['narrow-key'], topics: ['allowed.*'] },
    },
    ...patch,
  });
}

async function publish(
  gw: TestGateway,
  body: unknown,
  headers: Record<string, string>,
  path = '/api/exchanges/%2F/amq.default/publish',
) {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { res, json: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

async function stored(gw: TestGateway, topic: string): Promise<Stored[]> {
  const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() });
  assert.equal(res.status, 200);
  return ((await res.json()) as { messages: Stored[] }).messages;
}

describe('RabbitMQ management publish (embedded broker)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(config());
  });
  after(async () => {
    await gw.stop();
  });

  it('publishes the documented request (payload_encoding string) and answers {"routed": true}', async () => {
    const { res, json } = await publish(
      gw,
      { properties: {}, routing_key: 'rmq.orders', payload: 'my body', payload_encoding: 'string' },
      basic('guest', 'dev-key'),
    );
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(json, { routed: true });
    const [message] = await stored(gw, 'rmq.orders');
    assert.equal(Buffer.from(message!.valueBase64!, 'base64').toString('utf8'), 'my body');
    assert.equal(message!.contentType, 'application/octet-stream');
  });

  it('payload_encoding base64: the decoded bytes; AMQP properties as id, content type and headers', async () => {
    const payload = Buffer.from('{"order": 12345678901234567890}');
    const { res, json } = await publish(
      gw,
      {
        properties: {
          delivery_mode: 2,
          content_type: 'application/json',
          message_id: 'order-1',
          correlation_id: 'corr-7',
          reply_to: 'replies',
          priority: 5,
          expiration: '60000',
          type: 'order.created',
          timestamp: 1700000000,
          headers: { 'x-origin': 'billing' },
        },
        routing_key: 'rmq.json',
        payload: payload.toString('base64'),
        payload_encoding: 'base64',
      },
      basic('guest', 'dev-key'),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(json, { routed: true });
    const [message] = await stored(gw, 'rmq.json');
    assert.equal(message!.value, payload.toString('utf8'));
    assert.equal(message!.id, 'order-1');
    assert.equal(message!.contentType, 'application/json');
    const { headers } = message!;
    assert.equal(headers['x-origin'], 'billing');
    assert.equal(headers['pubgate-amqp-correlation-id'], 'corr-7');
    assert.equal(headers['pubgate-amqp-reply-to'], 'replies');
    assert.equal(headers['pubgate-amqp-priority'], '5');
    assert.equal(headers['pubgate-amqp-expiration'], '60000');
    assert.equal(headers['pubgate-amqp-type'], 'order.created');
    assert.equal(headers['pubgate-timestamp'], '1700000000000');
  });

  it('keeps an Idempotency-Key: the same publish is answered once and stored once', async () => {
    const body = { properties: {}, routing_key: 'rmq.idem', payload: 'once', payload_encoding: 'string' };
    const headers = { ...basic('guest', 'dev-key'), 'idempotency-key': 'rmq-idem-1' };
    const first = await publish(gw, body, headers);
    const second = await publish(gw, body, headers);
    assert.deepEqual(first.json, { routed: true });
    assert.deepEqual(second.json, { routed: true });
    assert.equal(second.res.headers.get('idempotent-replayed'), 'true');
    assert.equal((await stored(gw, 'rmq.idem')).length, 1);
  });

  it('401 and 403 in the management API error body, with a Basic challenge', async () => {
    const body = { properties: {}, routing_key: 'rmq.auth', payload: 'x', payload_encoding: 'string' };
    const none = await publish(gw, body, {});
    assert.equal(none.res.status, 401);
    assert.equal(none.json!.error, 'not_authorized');
    assert.equal(typeof none.json!.reason, 'string');
    assert.match(none.res.headers.get('www-authenticate') ?? '', /^Basic /);
    assert.doesNotMatch(none.res.headers.get('content-type') ?? '', /problem/);
    const wrong = await publish(gw, body, basic('guest', 'guest'));
    assert.equal(wrong.res.status, 401);
    const forbidden = await publish(gw, body, basic('guest', 'narrow-key'));
    assert.equal(forbidden.res.status, 403);
    assert.equal(forbidden.json!.error, 'not_authorized');
    const allowed = await publish(gw, { ...body, routing_key: 'allowed.rmq' }, basic('guest', 'narrow-key'));
    assert.deepEqual(allowed.json, { routed: true });
    assert.equal((await stored(gw, 'rmq.auth')).length, 0);
  });

  it('unknown vhost or exchange: 404 Object Not Found; a missing key or bad JSON payload: 400', async () => {
    const body = { properties: {}, routing_key: 'rmq.bad', payload: 'x', payload_encoding: 'string' };
    const vhost = await publish(gw, body, basic('g', 'dev-key'), '/api/exchanges/other/amq.default/publish');
    assert.equal(vhost.res.status, 404);
    assert.equal(vhost.json!.error, 'Object Not Found');
    const exchange = await publish(gw, body, basic('g', 'dev-key'), '/api/exchanges/%2F/nope/publish');
    assert.equal(exchange.res.status, 404);
    const missing = await publish(
      gw,
      { properties: {}, routing_key: 'rmq.bad', payload: 'x' },
      basic('g', 'dev-key'),
    );
    assert.equal(missing.res.status, 400);
    assert.equal(missing.json!.error, 'bad_request');
    const notJson = await publish(
      gw,
      { ...body, properties: { content_type: 'application/json' }, payload: '{nope' },
      basic('g', 'dev-key'),
    );
    assert.equal(notJson.res.status, 400);
    assert.equal((await stored(gw, 'rmq.bad')).length, 0);
  });
});

describe('RabbitMQ management publish options', () => {
  let off: TestGateway;
  let tenantUser: TestGateway;
  before(async () => {
    off = await startGateway(config({ compat: { rabbitmqHttp: { enabled: false } } }));
    tenantUser = await startGateway(
      config({
        compat: {
          rabbitmqHttp: { basicAuthUsername: 'tenant', exchanges: { events: 'app.{routing_key}' } },
        },
      }),
    );
  });
  after(async () => {
    await Promise.all([off.stop(), tenantUser.stop()]);
  });

  it('switched off: 404', async () => {
    const res = await fetch(`${off.url}/api/exchanges/%2F/amq.default/publish`, {
      method: 'POST',
      headers: { ...basic('g', 'dev-key'), 'content-type': 'application/json' },
      body: JSON.stringify({ properties: {}, routing_key: 'x', payload: 'x', payload_encoding: 'string' }),
    });
    assert.equal(res.status, 404);
    await res.body?.cancel();
  });

  it('basicAuthUsername tenant, and an exchange mapped to a topic template', async () => {
    const body = { properties: {}, routing_key: 'paid', payload: 'p', payload_encoding: 'string' };
    const path = '/api/exchanges/%2F/events/publish';
    const wrongUser = await publish(tenantUser, body, basic('someone', 'dev-key'), path);
    assert.equal(wrongUser.res.status, 401);
    const right = await publish(tenantUser, body, basic('dev', 'dev-key'), path);
    assert.deepEqual(right.json, { routed: true });
    const [message] = await stored(tenantUser, 'app.paid');
    assert.equal(Buffer.from(message!.valueBase64!, 'base64').toString('utf8'), 'p');
  });
});
