/**
 * Delayed delivery over HTTP on the embedded broker: Deliver-After / Deliver-At and batch fields,
 * the `scheduled` answer and status, cancellation (DELETE), 400s, per-key order, idempotency, and a
 * gateway killed (SIGKILL) while messages are scheduled.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertDocumented } from '../support/openapi.js';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';
import { startGatewayProcess } from '../support/gateway-process.js';

const MESSAGES = '/v1/topics/{topic}/messages';
const STATUS = '/v1/messages/{id}';

function config() {
  return embeddedConfig({
    routes: [
      { topic: 'short.**', target: 'local', maxDelay: '10s' },
      { topic: 'ff.**', target: 'local', delivery: 'fire-and-forget' },
      { topic: 'async.**', target: 'local', delivery: 'async' },
      { topic: '**', target: 'local' },
    ],
    tenants: {
      dev: { keys: ['dev-key'], topics: ['**'] },
      other: { keys: ['other-key'], topics: ['**'] },
    },
  });
}

async function post(url: string, topic: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/topics/${topic}/messages`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json', ...headers },
    body,
  });
  const json = (await res.json()) as Record<string, unknown>;
  assertDocumented(MESSAGES, 'post', res, json);
  return { res, json };
}

async function batch(url: string, topic: string, messages: unknown[]) {
  const res = await fetch(`${url}/v1/topics/${topic}/messages/batch`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json' },
    body: JSON.stringify({ messages }),
  });
  const json = (await res.json()) as Record<string, unknown>;
  assertDocumented(`${MESSAGES}/batch`, 'post', res, json);
  return { res, json };
}

async function status(url: string, id: string, key = 'dev-key') {
  const res = await fetch(`${url}/v1/messages/${id}`, { headers: auth(key) });
  const json = (await res.json()) as Record<string, unknown>;
  assertDocumented(STATUS, 'get', res, json);
  return { res, json };
}

async function cancel(url: string, id: string, key = 'dev-key') {
  const res = await fetch(`${url}/v1/messages/${id}`, { method: 'DELETE', headers: auth(key) });
  const json = (await res.json()) as Record<string, unknown>;
  assertDocumented(STATUS, 'delete', res, json);
  return { res, json };
}

async function readIds(url: string, topic: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/topics/${topic}/messages?limit=1000`, { headers: auth() });
  assert.equal(res.status, 200);
  const page = (await res.json()) as { messages: Array<{ id: string }> };
  return page.messages.map((m) => m.id);
}

/** Polls the topic until `id` is readable; resolves with the time it was first seen. */
async function arrival(url: string, topic: string, id: string, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if ((await readIds(url, topic)).includes(id)) return Date.now();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${id} did not arrive on ${topic} within ${timeoutMs} ms`);
}

describe('delayed delivery (embedded broker)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(config());
  });
  after(() => gw.stop());

  it('Deliver-After: 3s → 202 scheduled; not readable before 3 s, readable within 4.5 s; status follows', async () => {
    const sent = Date.now();
    const { res, json } = await post(gw.url, 'delay.after', '{"n":1}', { 'deliver-after': '3s' });
    assert.equal(res.status, 202);
    assert.equal(json.status, 'scheduled');
    assert.equal(json.delay, 'emulated');
    assert.equal(res.headers.get('location'), `/v1/messages/${String(json.id)}`);
    const deliverAt = Date.parse(String(json.deliverAt));
    assert.ok(
      deliverAt >= sent + 3_000 && deliverAt <= Date.now() + 3_000,
      `deliverAt ${String(json.deliverAt)}`,
    );
    const id = String(json.id);

    const early = await status(gw.url, id);
    assert.equal(early.json.status, 'scheduled');
    assert.equal(early.json.deliverAt, json.deliverAt);

    const seen = await arrival(gw.url, 'delay.after', id, 4_500 - (Date.now() - sent));
    assert.ok(seen >= deliverAt, `arrived ${deliverAt - seen} ms early`);
    assert.ok(seen - sent <= 4_500, `arrived ${seen - sent} ms after the publish`);
    const done = await status(gw.url, id);
    assert.equal(done.json.status, 'confirmed');
    assert.equal(done.json.delay, 'emulated');
    assert.ok(done.json.receipt);
  });

  it('is on time: lateness stays well under a second (relay wakes at the due time)', async () => {
    const topic = 'delay.precision';
    const pending = await Promise.all(
      [400, 700, 1_000, 1_300].map(async (ms) => {
        const { res, json } = await post(gw.url, topic, '{}', { 'deliver-after': `${ms}ms` });
        assert.equal(res.status, 202);
        return { id: String(json.id), at: Date.parse(String(json.deliverAt)) };
      }),
    );
    for (const { id, at } of pending) {
      const seen = await arrival(gw.url, topic, id, 3_000);
      assert.ok(seen >= at, `${id} arrived ${at - seen} ms early`);
      // Includes this test's polling (25 ms) and read-back time.
      assert.ok(seen - at < 500, `${id} arrived ${seen - at} ms late`);
    }
  });

  it('Deliver-At: an RFC 3339 time; in the past → no delay (201)', async () => {
    const at = new Date(Date.now() + 1_500).toISOString();
    const { res, json } = await post(gw.url, 'delay.at', '{}', { 'deliver-at': at });
    assert.equal(res.status, 202);
    assert.equal(json.deliverAt, at);
    const past = await post(gw.url, 'delay.at', '{}', { 'deliver-at': '2001-01-01T00:00:00Z' });
    assert.equal(past.res.status, 201);
    assert.equal(past.json.status, 'confirmed');
    const zero = await post(gw.url, 'delay.at', '{}', { 'deliver-after': '0' });
    assert.equal(zero.res.status, 201);
  });

  it('is scheduled through the outbox whatever the delivery mode (fire-and-forget, async)', async () => {
    for (const topic of ['ff.delay', 'async.delay']) {
      const { res, json } = await post(gw.url, topic, '{}', { 'deliver-after': '1s' });
      assert.equal(res.status, 202, topic);
      assert.equal(json.status, 'scheduled', topic);
      assert.equal((await status(gw.url, String(json.id))).json.status, 'scheduled');
    }
  });

  it('DELETE cancels a scheduled message (never delivered); 409 once it was handed to the broker', async () => {
    const topic = 'delay.cancel';
    const kept = await post(gw.url, topic, '{"kept":true}', { 'deliver-after': '1s' });
    const dropped = await post(gw.url, topic, '{"kept":false}', { 'deliver-after': '1s' });
    const droppedId = String(dropped.json.id);
    const keptId = String(kept.json.id);

    // Another tenant cannot see or cancel it.
    assert.equal((await cancel(gw.url, droppedId, 'other-key')).res.status, 404);
    const cancelled = await cancel(gw.url, droppedId);
    assert.equal(cancelled.res.status, 200);
    assert.equal(cancelled.json.status, 'cancelled');
    // Again: still cancelled (200).
    assert.equal((await cancel(gw.url, droppedId)).json.status, 'cancelled');

    await arrival(gw.url, topic, keptId, 3_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(!(await readIds(gw.url, topic)).includes(droppedId), 'a cancelled message was delivered');
    assert.equal((await status(gw.url, droppedId)).json.status, 'cancelled');

    const late = await cancel(gw.url, keptId);
    assert.equal(late.res.status, 409);
    assert.equal(late.json.code, 'GW_ERR_NOT_CANCELLABLE');
    // A message that was never delayed, and an unknown one.
    const plain = await post(gw.url, topic, '{}');
    assert.equal((await cancel(gw.url, String(plain.json.id))).res.status, 409);
    assert.equal((await cancel(gw.url, 'no-such-message')).res.status, 404);
  });

  it('400 GW_ERR_INVALID_DELAY: both headers, unparsable, beyond maxDelay; nothing is kept', async () => {
    const topic = 'short.invalid';
    const cases: Record<string, string>[] = [
      { 'deliver-after': '1s', 'deliver-at': new Date(Date.now() + 5_000).toISOString() },
      { 'deliver-after': 'soon' },
      { 'deliver-after': '-5s' },
      { 'deliver-after': '1w' },
      { 'deliver-at': 'tomorrow' },
      { 'deliver-at': '2030-01-02T03:04:05' },
      { 'deliver-after': '11s' }, // the route's maxDelay is 10s
      { 'deliver-at': new Date(Date.now() + 60_000).toISOString() },
    ];
    for (const headers of cases) {
      const { res, json } = await post(gw.url, topic, '{}', headers);
      assert.equal(res.status, 400, JSON.stringify(headers));
      assert.equal(json.code, 'GW_ERR_INVALID_DELAY', JSON.stringify(headers));
    }
    // The default maxDelay is 7 days.
    const week = await post(gw.url, 'delay.week', '{}', { 'deliver-after': '8d' });
    assert.equal(week.res.status, 400);
    assert.equal((await post(gw.url, 'delay.week', '{}', { 'deliver-after': '6d' })).res.status, 202);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(await readIds(gw.url, topic), []);
  });

  it('batch: per-message deliverAfter / deliverAt; results scheduled with deliverAt; invalid → 400 by index', async () => {
    const topic = 'delay.batch';
    const { res, json } = await batch(gw.url, topic, [
      { value: { n: 0 } },
      { value: { n: 1 }, deliverAfter: '1s' },
      { value: { n: 2 }, deliverAfter: 1 },
      { value: { n: 3 }, deliverAt: new Date(Date.now() + 1_000).toISOString() },
    ]);
    assert.equal(res.status, 202);
    const results = json.results as Array<Record<string, unknown>>;
    assert.equal(results[0]!.status, 'confirmed');
    for (const r of results.slice(1)) {
      assert.equal(r.status, 'scheduled');
      assert.equal(typeof r.deliverAt, 'string');
    }
    assert.deepEqual(await readIds(gw.url, topic), [results[0]!.id]);
    for (const r of results.slice(1)) await arrival(gw.url, topic, String(r.id), 3_000);

    const bad = await batch(gw.url, topic, [
      { value: 1, deliverAfter: '1s' },
      { value: 2, deliverAfter: 'later' },
      { value: 3, deliverAfter: '1s', deliverAt: '2030-01-01T00:00:00Z' },
    ]);
    assert.equal(bad.res.status, 400);
    assert.equal(bad.json.code, 'GW_ERR_INVALID_DELAY');
    assert.deepEqual(
      (bad.json.errors as Array<{ index: number }>).map((e) => e.index),
      [1, 2],
    );
  });

  it('per key: a delayed message does not hold back later messages of its key; it goes when due', async () => {
    const topic = 'delay.order';
    const headers = { 'message-key': 'k' };
    const first = await post(gw.url, topic, '{"n":1}', { ...headers, 'deliver-after': '800ms' });
    const second = await post(gw.url, topic, '{"n":2}', headers);
    assert.equal(second.res.status, 201, 'the later message of the key is not held back');
    await arrival(gw.url, topic, String(first.json.id), 3_000);
    assert.deepEqual(await readIds(gw.url, topic), [second.json.id, first.json.id]);
  });

  it('Idempotency-Key: the delay as asked is part of the request', async () => {
    const topic = 'delay.idem';
    const key = { 'idempotency-key': `delay-${Date.now()}` };
    const one = await post(gw.url, topic, '{}', { ...key, 'deliver-after': '2s' });
    assert.equal(one.res.status, 202);
    const again = await post(gw.url, topic, '{}', { ...key, 'deliver-after': '2s' });
    assert.equal(again.res.status, 202);
    assert.equal(again.res.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(again.json, one.json);
    const other = await post(gw.url, topic, '{}', { ...key, 'deliver-after': '3s' });
    assert.equal(other.res.status, 422);
    const none = await post(gw.url, topic, '{}', key);
    assert.equal(none.res.status, 422);
  });

  it('counts scheduled and cancelled messages in /metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /pubgate_delayed_messages_total\{outcome="scheduled"\} [1-9]/);
    assert.match(text, /pubgate_delayed_messages_total\{outcome="cancelled"\} [1-9]/);
    assert.match(text, /pubgate_outbox_messages\{state="scheduled"\} \d/);
  });
});

describe('delayed delivery across a gateway kill -9', () => {
  it('a scheduled message survives SIGKILL and a restart: not early, and delivered once due', async () => {
    const cfg = embeddedConfig();
    const first = await startGatewayProcess(cfg);
    try {
      const sent = Date.now();
      // Long enough to outlast the restart (a few seconds), so the new process is seen holding it.
      const { res, json } = await post(first.url, 'delay.restart', '{"survives":true}', {
        'deliver-after': '10s',
      });
      assert.equal(res.status, 202);
      const id = String(json.id);
      const deliverAt = Date.parse(String(json.deliverAt));
      first.kill('SIGKILL');
      await first.exited();

      const second = await startGatewayProcess(cfg, { dir: first.dir });
      try {
        assert.ok(Date.now() < deliverAt - 200, 'the restart took longer than the delay');
        assert.equal((await status(second.url, id)).json.status, 'scheduled');
        assert.deepEqual(await readIds(second.url, 'delay.restart'), []);
        const seen = await arrival(
          second.url,
          'delay.restart',
          id,
          Math.max(1_000, deliverAt + 1_500 - Date.now()),
        );
        assert.ok(seen >= deliverAt, `arrived ${deliverAt - seen} ms early`);
        assert.ok(seen - deliverAt < 1_000, `arrived ${seen - deliverAt} ms late`);
        assert.ok(seen - sent < 15_000);
        assert.equal((await status(second.url, id)).json.status, 'confirmed');
      } finally {
        await second.dispose();
      }
    } finally {
      await first.dispose();
    }
  });
});
