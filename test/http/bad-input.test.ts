/**
 * Bad input from ../shared/TESTING.md: each gets its coded problem+json 4xx, documented in the
 * OpenAPI document, nothing reaches the broker, and the gateway keeps serving.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';
import { rawRequest } from '../support/http.js';
import { assertDocumented } from '../support/openapi.js';

const MESSAGES = '/v1/topics/{topic}/messages';
const TOPIC = 'bad.input';

describe('bad input is refused with a coded problem and nothing is stored', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        routes: [
          { topic: 'small.*', target: 'local', maxBodyBytes: 1024 },
          { topic: 'json.only', target: 'local', contentTypes: ['application/json'] },
          { topic: '**', target: 'local' },
        ],
        tenants: {
          dev: { keys: ['dev-key'], topics: ['**'] },
          other: { keys: ['other-key'], topics: ['other.*'] },
        },
      }),
    );
  });
  after(async () => {
    // The topic used for bad input must still be empty: nothing reached the broker.
    const page = (await (
      await fetch(`${gw.url}/v1/topics/${TOPIC}/messages`, { headers: auth() })
    ).json()) as {
      messages: unknown[];
    };
    await gw.stop();
    assert.equal(page.messages.length, 0, 'a refused request reached the broker');
  });

  async function expectProblem(
    res: Response,
    status: number,
    code: string,
    path: string = MESSAGES,
    method: 'get' | 'post' = 'post',
  ): Promise<Record<string, unknown>> {
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, status, JSON.stringify(body));
    assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(body.code, code);
    assert.equal(body.status, status);
    assert.equal(body.requestId, res.headers.get('x-request-id'));
    if (path !== '') assertDocumented(path, method, res, body);
    return body;
  }

  function publish(topic: string, init: { body?: string; headers?: Record<string, string> } = {}) {
    return fetch(`${gw.url}/v1/topics/${topic}/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', ...init.headers },
      body: init.body ?? '{"ok":true}',
    });
  }

  it('no credential → 401 with WWW-Authenticate', async () => {
    const res = await fetch(`${gw.url}/v1/topics/${TOPIC}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await expectProblem(res, 401, 'GW_ERR_UNAUTHENTICATED');
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="pubgate"/);
  });

  for (const [label, header] of [
    ['wrong key', 'Bearer not-the-key'],
    ['very long key', `Bearer ${'k'.repeat(4000)}`],
    ['empty bearer', 'Bearer '],
    ['basic scheme', 'Basic ZGV2OmRldi1rZXk='],
  ] as const) {
    it(`${label} → 401`, async () => {
      await expectProblem(
        await publish(TOPIC, { headers: { authorization: header } }),
        401,
        'GW_ERR_UNAUTHENTICATED',
      );
    });
  }

  for (const [label, body] of [
    ['malformed JSON', '{"a":'],
    ['empty JSON body', ''],
    ['trailing garbage', '{"a":1} x'],
  ] as const) {
    it(`${label} → 400 GW_ERR_INVALID_JSON`, async () => {
      await expectProblem(await publish(TOPIC, { body }), 400, 'GW_ERR_INVALID_JSON');
    });
  }

  it('JSON nested 10,000 deep → 400 GW_ERR_JSON_TOO_DEEP, and the gateway still answers', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    await expectProblem(await publish(TOPIC, { body: deep }), 400, 'GW_ERR_JSON_TOO_DEEP');
    assert.equal((await fetch(`${gw.url}/livez`)).status, 200);
  });

  it('a 20 MB body with Content-Length → 413', async () => {
    const res = await rawRequest(`${gw.url}/v1/topics/${TOPIC}/messages`, {
      headers: { ...auth(), 'content-type': 'application/octet-stream', 'content-length': 20 * 1024 * 1024 },
      body: Buffer.alloc(20 * 1024 * 1024, 0x61),
    });
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).code, 'GW_ERR_BODY_TOO_LARGE');
  });

  it("a chunked body over the route's limit → 413", async () => {
    const res = await rawRequest(`${gw.url}/v1/topics/small.topic/messages`, {
      headers: { ...auth(), 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(256 * 1024, 0x62),
      chunked: true,
    });
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).code, 'GW_ERR_BODY_TOO_LARGE');
  });

  it('a route without JSON in its content types… and a missing or unlisted Content-Type → 415', async () => {
    await expectProblem(
      await publish('json.only', { headers: { 'content-type': 'text/plain' }, body: 'x' }),
      415,
      'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
    );
    const noType = await fetch(`${gw.url}/v1/topics/${TOPIC}/messages`, {
      method: 'POST',
      headers: auth(),
      body: new Uint8Array([1, 2]),
    });
    await expectProblem(noType, 415, 'GW_ERR_UNSUPPORTED_MEDIA_TYPE');
    await expectProblem(
      await publish(TOPIC, { headers: { 'content-type': 'image/png' }, body: 'x' }),
      415,
      'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
    );
  });

  for (const [label, path, status] of [
    ['../admin', '/v1/topics/../admin/messages', 404],
    ['%2e%2e', '/v1/topics/%2e%2e/messages', 400],
    ['encoded slash', '/v1/topics/a%2Fb/messages', 400],
    ['double dot inside', '/v1/topics/a..b/messages', 400],
    ['leading dot', '/v1/topics/.hidden/messages', 400],
    ['over 249 characters', `/v1/topics/${'t'.repeat(250)}/messages`, 400],
    ['space', '/v1/topics/a%20b/messages', 400],
  ] as const) {
    it(`topic ${label} → ${status}`, async () => {
      const res = await rawRequest(gw.url, {
        path,
        headers: { ...auth(), 'content-type': 'application/json' },
        body: Buffer.from('{}'),
      });
      assert.equal(res.status, status, res.body);
      assert.equal(res.headers['content-type']?.startsWith('application/problem+json'), true);
      assert.equal(JSON.parse(res.body).code, status === 400 ? 'GW_ERR_INVALID_TOPIC' : 'GW_ERR_NOT_FOUND');
    });
  }

  for (const topic of [
    '__consumer_offsets',
    'amq.direct',
    'RMQ_SYS_TRACE_TOPIC',
    '%DLQ%group'.replace(/%/g, '%25'),
  ]) {
    it(`broker-internal topic ${decodeURIComponent(topic)} → 403`, async () => {
      await expectProblem(await publish(topic), 403, 'GW_ERR_RESERVED_TOPIC');
    });
  }

  it("another tenant's topic → 403, and a tenant-choosing header → 403", async () => {
    await expectProblem(
      await publish('dev.stuff', { headers: auth('other-key') }),
      403,
      'GW_ERR_FORBIDDEN_TOPIC',
    );
    await expectProblem(
      await publish('other.stuff', { headers: { ...auth('other-key'), 'x-tenant': 'dev' } }),
      403,
      'GW_ERR_TENANT_HEADER',
    );
  });

  it('header values with CR/LF/NUL, reserved names, too many or too long headers → 400', async () => {
    const batch = (headers: Record<string, string>) =>
      fetch(`${gw.url}/v1/topics/${TOPIC}/messages/batch`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ value: 1, headers }] }),
      });
    for (const headers of [
      { 'x-a': 'line\r\nInjected: yes' },
      { 'x-a': 'nul\u0000byte' },
      { userId: 'guest' },
      { CC: 'other.key' },
      { 'x-delay': '1000' },
      { 'x-death': 'x' },
      { UNIQ_KEY: 'x' },
      { 'pubgate-id': 'forged' },
      { 'x-long': 'v'.repeat(5000) },
      Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`h${i}`, 'v'])),
    ]) {
      const res = await batch(headers);
      const body = (await res.json()) as { code: string };
      assert.equal(res.status, 400, JSON.stringify(headers).slice(0, 80));
      assert.equal(body.code, 'GW_ERR_INVALID_HEADER');
    }
  });

  it('invalid Message-Id and Message-Key → 400', async () => {
    await expectProblem(
      await publish(TOPIC, { headers: { 'message-id': 'has space' } }),
      400,
      'GW_ERR_INVALID_MESSAGE_ID',
    );
    await expectProblem(
      await publish(TOPIC, { headers: { 'message-id': 'x'.repeat(200) } }),
      400,
      'GW_ERR_INVALID_MESSAGE_ID',
    );
    await expectProblem(
      await publish(TOPIC, { headers: { 'message-key': 'k'.repeat(300) } }),
      400,
      'GW_ERR_INVALID_MESSAGE_KEY',
    );
  });

  it('malformed batches → 400 GW_ERR_INVALID_BATCH', async () => {
    for (const body of [
      { messages: [] },
      { messages: [{}] },
      { messages: [{ value: 1, valueBase64: 'AA==' }] },
      { messages: [{ valueBase64: 'not base64!' }] },
      { messages: [{ value: 1, extra: true }] },
      { nope: 1 },
      { messages: Array.from({ length: 501 }, () => ({ value: 1 })) },
    ]) {
      const res = await fetch(`${gw.url}/v1/topics/${TOPIC}/messages/batch`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await expectProblem(res, 400, 'GW_ERR_INVALID_BATCH', '/v1/topics/{topic}/messages/batch');
    }
  });

  it('a message over the broker maximum → 413 GW_ERR_MESSAGE_TOO_LARGE at the gateway', async () => {
    // The embedded broker's default maximum is 1 MiB; this route allows 4 MiB bodies.
    const gw2 = await startGateway(
      embeddedConfig({ routes: [{ topic: '**', target: 'local', maxBodyBytes: 4 * 1024 * 1024 }] }),
    );
    try {
      const res = await fetch(`${gw2.url}/v1/topics/${TOPIC}/messages`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/octet-stream' },
        body: new Uint8Array(2 * 1024 * 1024),
      });
      await expectProblem(res, 413, 'GW_ERR_MESSAGE_TOO_LARGE');
    } finally {
      await gw2.stop();
    }
  });

  it('unsupported method → 405 with Allow; unknown path → 404; bad query → 400', async () => {
    const res = await fetch(`${gw.url}/v1/topics/${TOPIC}/messages`, { method: 'DELETE', headers: auth() });
    const body = (await res.json()) as { code: string };
    assert.equal(res.status, 405);
    assert.equal(body.code, 'GW_ERR_METHOD_NOT_ALLOWED');
    assert.equal(res.headers.get('allow'), 'GET, POST');
    const batchGet = await fetch(`${gw.url}/v1/topics/${TOPIC}/messages/batch`, { headers: auth() });
    assert.equal(batchGet.status, 405);
    assert.equal(batchGet.headers.get('allow'), 'POST');
    await expectProblem(await fetch(`${gw.url}/v2/nothing`), 404, 'GW_ERR_NOT_FOUND', '');
    await expectProblem(
      await fetch(`${gw.url}/v1/topics/${TOPIC}/messages?limit=0`, { headers: auth() }),
      400,
      'GW_ERR_INVALID_QUERY',
      MESSAGES,
      'get',
    );
  });

  it('a route matches nothing → 404 GW_ERR_NO_ROUTE', async () => {
    const gw2 = await startGateway(embeddedConfig({ routes: [{ topic: 'only.*', target: 'local' }] }));
    try {
      const res = await fetch(`${gw2.url}/v1/topics/elsewhere/messages`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: '{}',
      });
      await expectProblem(res, 404, 'GW_ERR_NO_ROUTE');
    } finally {
      await gw2.stop();
    }
  });
});
