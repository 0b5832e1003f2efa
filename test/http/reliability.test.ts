/**
 * The reliability layer over HTTP on the embedded broker: async delivery and its status, spooling,
 * dead letters and the admin API, Idempotency-Key semantics, and 503 (never 202) when the outbox
 * is full or unwritable or the idempotency store is down. A RabbitMQ target on an unused port
 * stands in for a broker that is down.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertDocumented } from '../support/openapi.js';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';

const MESSAGES = '/v1/topics/{topic}/messages';
const ADMIN_KEY = 'test-admin-key';
const DOWN = { kind: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:1', exchange: 'pubgate' };

function config(patch: Record<string, unknown> = {}) {
  return embeddedConfig({
    brokers: { local: { kind: 'embedded', dir: './data' }, down: DOWN },
    routes: [
      { topic: 'async.**', target: 'local', allowAsync: true },
      { topic: 'always-async.**', target: 'local', delivery: 'async' },
      { topic: 'spool.**', target: 'down', degrade: 'spool' },
      { topic: 'dead.**', target: 'down', allowAsync: true },
      { topic: 'ff.**', target: 'local', delivery: 'fire-and-forget' },
      { topic: '**', target: 'local' },
    ],
    tenants: {
      dev: { keys: ['dev-key'], topics: ['**'] },
      other: { keys: ['other-key'], topics: ['**'] },
    },
    server: { host: '127.0.0.1', port: 0, publishTimeoutMs: 1500 },
    reliability: {
      retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 },
      // A target that is down never uses up a message's attempts; only its age makes it dead.
      relay: { pollIntervalMs: 50, maxAgeSeconds: 2, targetBackoffBaseMs: 0, targetBackoffMaxMs: 0 },
    },
    admin: { keys: [ADMIN_KEY] },
    ...patch,
  });
}

async function post(url: string, topic: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/topics/${topic}/messages`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json', ...headers },
    body,
  });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

async function status(url: string, id: string, key = 'dev-key') {
  const res = await fetch(`${url}/v1/messages/${id}`, { headers: auth(key) });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('reliability over HTTP', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(config());
  });
  after(async () => {
    await gw.stop();
  });

  it('Prefer: respond-async → 202 queued after the outbox write, then confirmed by the relay', async () => {
    const { res, json } = await post(gw.url, 'async.orders', '{"n":1}', { prefer: 'respond-async' });
    assert.equal(res.status, 202);
    assertDocumented(MESSAGES, 'post', res, json);
    assert.equal(json.status, 'queued');
    assert.equal(res.headers.get('preference-applied'), 'respond-async');
    assert.equal(res.headers.get('location'), json.statusUrl);
    const done = await until('confirmed', async () => {
      const s = await status(gw.url, String(json.id));
      return s.json.status === 'confirmed' ? s : undefined;
    });
    assertDocumented('/v1/messages/{id}', 'get', done.res, done.json);
    assert.equal((done.json.receipt as Record<string, unknown>).broker, 'embedded');
    assert.equal(done.json.attempts, 1);
  });

  it('ignores Prefer where the route does not allow async; delivery: async needs no Prefer', async () => {
    const sync = await post(gw.url, 'plain.orders', '{}', { prefer: 'respond-async' });
    assert.equal(sync.res.status, 201);
    assert.equal(sync.res.headers.get('preference-applied'), null);
    const queued = await post(gw.url, 'always-async.orders', '{}');
    assert.equal(queued.res.status, 202);
  });

  it('records sync outcomes: the status of a 201 message is confirmed, and only for its tenant', async () => {
    const { res, json } = await post(gw.url, 'plain.status', '{}');
    assert.equal(res.status, 201);
    const s = await status(gw.url, String(json.id));
    assert.equal(s.res.status, 200);
    assert.equal(s.json.status, 'confirmed');
    const foreign = await status(gw.url, String(json.id), 'other-key');
    assert.equal(foreign.res.status, 404);
    assertDocumented('/v1/messages/{id}', 'get', foreign.res, foreign.json);
  });

  it('spools a sync publish to the outbox (202) when the broker is down and the route says spool', async () => {
    const { res, json } = await post(gw.url, 'spool.orders', '{}');
    assert.equal(res.status, 202);
    assert.equal(json.status, 'queued');
  });

  it('fire-and-forget answers 202 accepted at once', async () => {
    const { res, json } = await post(gw.url, 'ff.orders', '{}');
    assert.equal(res.status, 202);
    assert.equal(json.status, 'accepted');
    assertDocumented(MESSAGES, 'post', res, json);
  });

  it('a message past its max age is dead; the admin API lists, shows and replays it', async () => {
    const { json } = await post(gw.url, 'dead.orders', '{"x":1}', { prefer: 'respond-async' });
    const id = String(json.id);
    // The relay looks at the row when the target's breaker next lets a probe through (resetTimeoutMs,
    // 5 s by default) and finds it past its max age.
    await until(
      'dead',
      async () => ((await status(gw.url, id)).json.status === 'dead' ? true : undefined),
      15_000,
    );
    const dead = await status(gw.url, id);
    assert.equal((dead.json.lastError as Record<string, string>).code, 'ADP_ERR_UNAVAILABLE');

    const admin = { authorization: `Bearer ${ADMIN_KEY}` };
    const unauthorized = await fetch(`${gw.url}/admin/v1/dead-letters`, { headers: auth() });
    assert.equal(unauthorized.status, 401);
    const list = await fetch(`${gw.url}/admin/v1/dead-letters?tenant=dev&topic=dead.orders`, {
      headers: admin,
    });
    const page = (await list.json()) as { items: Array<Record<string, unknown>> };
    assert.equal(list.status, 200);
    assertDocumented('/admin/v1/dead-letters', 'get', list, page);
    assert.ok(page.items.some((item) => item.id === id));
    const one = await fetch(`${gw.url}/admin/v1/dead-letters/${id}`, { headers: admin });
    assert.equal(one.status, 200);
    assert.equal(((await one.json()) as Record<string, unknown>).payloadBytes, 7);
    const replay = await fetch(`${gw.url}/admin/v1/dead-letters/${id}/replay`, {
      method: 'POST',
      headers: admin,
    });
    assert.deepEqual(await replay.json(), { replayed: 1 });
    const bulk = await fetch(`${gw.url}/admin/v1/dead-letters/replay?tenant=nobody`, {
      method: 'POST',
      headers: admin,
    });
    assert.deepEqual(await bulk.json(), { replayed: 0 });
    const missing = await fetch(`${gw.url}/admin/v1/dead-letters/no-such-id`, { headers: admin });
    assert.equal(missing.status, 404);
  });

  it('Idempotency-Key: 50 concurrent requests with one key and body publish exactly once', async () => {
    const topic = 'idem.concurrent';
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        post(gw.url, topic, '{"once":true}', { 'idempotency-key': 'same-key' }),
      ),
    );
    const statuses = answers.map((a) => a.res.status);
    assert.ok(
      statuses.every((s) => s === 201 || s === 409),
      `unexpected statuses ${statuses.join(',')}`,
    );
    const fresh = answers.filter(
      (a) => a.res.status === 201 && a.res.headers.get('idempotent-replayed') === null,
    );
    assert.equal(fresh.length, 1);
    const read = await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() });
    const page = (await read.json()) as { messages: unknown[] };
    assert.equal(page.messages.length, 1);

    const replay = await post(gw.url, topic, '{"once":true}', { 'idempotency-key': 'same-key' });
    assert.equal(replay.res.status, 201);
    assert.equal(replay.res.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.json.id, fresh[0]!.json.id);
    assert.equal(replay.res.headers.get('location'), fresh[0]!.res.headers.get('location'));

    const other = await post(gw.url, topic, '{"once":false}', { 'idempotency-key': 'same-key' });
    assert.equal(other.res.status, 422);
    assert.equal(other.json.code, 'GW_ERR_IDEMPOTENCY_MISMATCH');
    assertDocumented(MESSAGES, 'post', other.res, other.json);
    const conflict = answers.find((a) => a.res.status === 409);
    if (conflict) assert.equal(conflict.json.code, 'GW_ERR_IDEMPOTENCY_IN_FLIGHT');
  });

  it('Idempotency-Key empty, over 255 characters or sent twice → 400', async () => {
    for (const headers of [{ 'idempotency-key': '' }, { 'idempotency-key': 'k'.repeat(256) }]) {
      const { res, json } = await post(gw.url, 'idem.bad', '{}', headers);
      assert.equal(res.status, 400);
      assert.equal(json.code, 'GW_ERR_IDEMPOTENCY_KEY_INVALID');
    }
    const twice = new Headers({ ...auth(), 'content-type': 'application/json' });
    twice.append('idempotency-key', 'a');
    twice.append('idempotency-key', 'b');
    const res = await fetch(`${gw.url}/v1/topics/idem.bad/messages`, {
      method: 'POST',
      headers: twice,
      body: '{}',
    });
    assert.equal(res.status, 400);
  });

  it('batch with Prefer: respond-async → 202 with every message queued', async () => {
    const res = await fetch(`${gw.url}/v1/topics/async.batch/messages/batch`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ messages: [{ value: 1 }, { value: 2 }] }),
    });
    const body = (await res.json()) as { results: Array<Record<string, unknown>> };
    assert.equal(res.status, 202);
    assertDocumented('/v1/topics/{topic}/messages/batch', 'post', res, body);
    assert.deepEqual(
      body.results.map((r) => r.status),
      ['queued', 'queued'],
    );
  });
});

describe('503, never 202, when the outbox or the idempotency store cannot take a request', () => {
  it('outbox full → 503 GW_ERR_OUTBOX_FULL with Retry-After, nothing kept', async () => {
    const gw = await startGateway(
      config({
        stores: { outbox: { kind: 'sqlite', path: './data/outbox.db', maxMessages: 1 } },
        // The queued message stays queued (the target is down) and keeps the outbox full.
        reliability: { relay: { targetBackoffBaseMs: 60_000, targetBackoffMaxMs: 60_000 } },
      }),
    );
    try {
      const first = await post(gw.url, 'dead.full', '{}', { prefer: 'respond-async' });
      assert.equal(first.res.status, 202);
      const second = await post(gw.url, 'dead.full', '{}', { prefer: 'respond-async' });
      assert.equal(second.res.status, 503);
      assert.equal(second.json.code, 'GW_ERR_OUTBOX_FULL');
      assert.ok(second.res.headers.get('retry-after'));
      assertDocumented(MESSAGES, 'post', second.res, second.json);
      assert.equal((await status(gw.url, String(second.json.id ?? 'none'))).res.status, 404);
    } finally {
      await gw.stop();
    }
  });

  it('outbox unwritable → 503 GW_ERR_OUTBOX_UNAVAILABLE', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-unwritable-'));
    writeFileSync(path.join(dir, 'file'), 'not a directory');
    const gw = await startGateway(
      config({ stores: { outbox: { kind: 'sqlite', path: path.join(dir, 'file', 'outbox.db') } } }),
    );
    try {
      const { res, json } = await post(gw.url, 'async.x', '{}', { prefer: 'respond-async' });
      assert.equal(res.status, 503);
      assert.equal(json.code, 'GW_ERR_OUTBOX_UNAVAILABLE');
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('idempotency store (Redis) down → 503 GW_ERR_STORE_UNAVAILABLE, nothing published', async () => {
    const gw = await startGateway(
      config({
        stores: { idempotency: { kind: 'redis', url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 } },
      }),
    );
    try {
      const { res, json } = await post(gw.url, 'idem.redis-down', '{}', { 'idempotency-key': 'k' });
      assert.equal(res.status, 503);
      assert.equal(json.code, 'GW_ERR_STORE_UNAVAILABLE');
      const read = await fetch(`${gw.url}/v1/topics/idem.redis-down/messages`, { headers: auth() });
      assert.equal(((await read.json()) as { messages: unknown[] }).messages.length, 0);
    } finally {
      await gw.stop();
    }
  });
});
