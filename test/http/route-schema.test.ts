/**
 * Payload schemas per route (`routes[].schema`), end to end on the embedded broker: a JSON payload
 * that does not match is 422 GW_ERR_SCHEMA_VIOLATION with each violation's path and message, and
 * nothing is stored — on the single publish, the batch, and CloudEvents data; a schema from a file
 * relative to the config; a schema that does not compile fails the config; the served OpenAPI
 * document shows each route's schema.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CloudEvent, HTTP } from 'cloudevents';
import { loadConfig } from '../../gateway/config/load.js';
import { assertDocumented } from '../support/openapi.js';
import {
  auth,
  embeddedConfig,
  startGateway,
  writeGatewayConfig,
  type TestGateway,
} from '../support/gateway.js';

const ORDER = {
  type: 'object',
  required: ['order', 'qty'],
  properties: {
    order: { type: 'string', minLength: 1 },
    qty: { type: 'integer', minimum: 1 },
    email: { type: 'string', format: 'email' },
  },
  additionalProperties: false,
};

describe('route payload schemas (embedded broker)', () => {
  let gw: TestGateway;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pubgate-schema-'));
    writeFileSync(path.join(dir, 'line.json'), JSON.stringify({ type: 'array', maxItems: 2 }));
    gw = await startGateway(
      embeddedConfig({
        routes: [
          { topic: 'orders.*', target: 'local', schema: ORDER },
          { topic: 'lines.*', target: 'local', schema: { file: 'line.json' } },
          { topic: 'strings.*', target: 'local', schema: { type: 'array', items: { type: 'string' } } },
          { topic: '**', target: 'local' },
        ],
        overload: { enabled: false },
      }),
      { dir },
    );
  });
  after(async () => {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (topic: string, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', ...headers },
      body,
    });
    return { res, json: (await res.json()) as Record<string, unknown> };
  };
  const count = async (topic: string) => {
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() });
    return ((await res.json()) as { messages: unknown[] }).messages.length;
  };

  it('a matching payload is published; a violating one is 422 with path and message, nothing stored', async () => {
    const ok = await post('orders.a', '{"order":"o-1","qty":2}');
    assert.equal(ok.res.status, 201);
    const bad = await post('orders.b', '{"order":"","qty":0,"extra":true,"email":"nope"}');
    assert.equal(bad.res.status, 422);
    assert.equal(bad.json.code, 'GW_ERR_SCHEMA_VIOLATION');
    assert.match(String(bad.res.headers.get('content-type')), /application\/problem\+json/);
    assertDocumented('/v1/topics/{topic}/messages', 'post', bad.res, bad.json);
    const errors = bad.json.errors as { path: string; message: string }[];
    const paths = errors.map((e) => e.path).sort();
    assert.deepEqual(paths, ['', '/email', '/order', '/qty']);
    assert.ok(errors.every((e) => typeof e.message === 'string' && e.message.length > 0));
    assert.equal(await count('orders.b'), 0);
  });

  it('a schema file relative to the config; at most 20 violations listed', async () => {
    const one = await post('lines.x', JSON.stringify([1, 2, 3]));
    assert.equal(one.res.status, 422);
    assert.deepEqual(one.json.errors, [
      {
        code: 'GW_ERR_SCHEMA_VIOLATION',
        detail: one.json.errors && (one.json.errors as { detail: string }[])[0]!.detail,
        path: '',
        message: 'must NOT have more than 2 items',
      },
    ]);
    const many = await post('strings.x', JSON.stringify(Array.from({ length: 30 }, (_, i) => i)));
    assert.equal(many.res.status, 422);
    assert.equal((many.json.errors as unknown[]).length, 20);
    assert.match(String(many.json.detail), /30 violation\(s\) \(the first 20 are listed\)/);
  });

  it('non-JSON payloads are not checked', async () => {
    const { res } = await post('orders.text', 'plain', { 'content-type': 'text/plain' });
    assert.equal(res.status, 201);
  });

  it('the batch: a violating message is 422 under its index, nothing published', async () => {
    const res = await fetch(`${gw.url}/v1/topics/orders.batch/messages/batch`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ value: { order: 'a', qty: 1 } }, { value: { order: 'b' } }] }),
    });
    const json = (await res.json()) as { code: string; errors: { index: number; path: string }[] };
    assert.equal(res.status, 422);
    assert.equal(json.code, 'GW_ERR_SCHEMA_VIOLATION');
    assert.deepEqual(
      json.errors.map((e) => [e.index, e.path]),
      [[1, '']],
    );
    assert.equal(await count('orders.batch'), 0);
  });

  it('CloudEvents data is checked (binary, structured and batched)', async () => {
    const good = new CloudEvent({ source: 's', type: 't', data: { order: 'o', qty: 1 } });
    const bad = new CloudEvent({ source: 's', type: 't', data: { order: 'o', qty: 'many' } });
    for (const message of [HTTP.binary(bad), HTTP.structured(bad)]) {
      const res = await fetch(`${gw.url}/v1/topics/orders.ce/messages`, {
        method: 'POST',
        headers: { ...auth(), ...(message.headers as Record<string, string>) },
        body: message.body as string,
      });
      const json = (await res.json()) as { code: string; errors: { path: string }[] };
      assert.equal(res.status, 422);
      assert.equal(json.errors[0]!.path, '/qty');
    }
    const batch = await fetch(`${gw.url}/v1/topics/orders.ce/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([good, bad]),
    });
    assert.equal(batch.status, 422);
    assert.equal(((await batch.json()) as { errors: { index: number }[] }).errors[0]!.index, 1);
    assert.equal(await count('orders.ce'), 0);
    const ok = HTTP.structured(good);
    const res = await fetch(`${gw.url}/v1/topics/orders.ce/messages`, {
      method: 'POST',
      headers: { ...auth(), ...(ok.headers as Record<string, string>) },
      body: ok.body as string,
    });
    assert.equal(res.status, 201);
  });

  it("the served OpenAPI document shows each route's schema", async () => {
    const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as {
      paths: Record<string, { post: { 'x-pubgate-routes': { topic: string; payloadSchema?: unknown }[] } }>;
    };
    const routes = doc.paths['/v1/topics/{topic}/messages']!.post['x-pubgate-routes'];
    assert.deepEqual(routes.find((r) => r.topic === 'orders.*')!.payloadSchema, ORDER);
    assert.deepEqual(routes.find((r) => r.topic === 'lines.*')!.payloadSchema, {
      type: 'array',
      maxItems: 2,
    });
    assert.equal(routes.find((r) => r.topic === '**')!.payloadSchema, undefined);
  });

  it('a schema that does not compile, or a missing file, fails the config with its route', () => {
    const bad = mkdtempSync(path.join(tmpdir(), 'pubgate-schema-bad-'));
    try {
      for (const [schema, pattern] of [
        [{ type: 'object', requried: ['x'] }, /routes\[0\]\.schema: invalid JSON Schema: .*requried/],
        [{ type: 'nonsense' }, /routes\[0\]\.schema: invalid JSON Schema/],
        [{ file: 'missing.json' }, /routes\[0\]\.schema: cannot read schema file .*missing\.json/],
      ] as const) {
        const file = writeGatewayConfig(
          bad,
          embeddedConfig({ routes: [{ topic: '**', target: 'local', schema }] }),
        );
        assert.throws(() => loadConfig({ argv: ['--config', file], env: {}, cwd: bad }), pattern);
      }
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
