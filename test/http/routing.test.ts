/**
 * Routing strategies over HTTP on two embedded targets: a 90/10 split over 1,000 messages (and keyed
 * messages staying on one target), mirror (each message in both targets with the same id), round
 * robin, failover past a target that never connected, reject, and GET /admin/v1/breakers.
 * Embedded targets are readable over GET; route `via-b.**` reads target b's destinations.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertDocumented } from '../support/openapi.js';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';

const ADMIN_KEY = 'routing-admin-key';
const DOWN = { kind: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:1', exchange: 'pubgate' };
/**
 * Tolerance of the split: the count on the 10 % target over 1,000 keyless messages is binomial
 * (mean 100, standard deviation 9.5); ±45 is about 4.7 standard deviations (a false failure about
 * once in 400,000 runs).
 */
const SPLIT_TOLERANCE = 45;

interface BatchResult {
  id: string;
  status: string;
  receipt?: { target: string };
}

async function batch(url: string, topic: string, messages: unknown[]) {
  const res = await fetch(`${url}/v1/topics/${topic}/messages/batch`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json' },
    body: JSON.stringify({ messages }),
  });
  const json = (await res.json()) as { results: BatchResult[] };
  assert.equal(res.status, 201, JSON.stringify(json).slice(0, 500));
  return json.results;
}

async function readIds(url: string, topic: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/topics/${topic}/messages?limit=1000`, { headers: auth() });
  assert.equal(res.status, 200);
  const json = (await res.json()) as { messages: { id: string }[] };
  return json.messages.map((m) => m.id);
}

async function metric(url: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const found = text.split('\n').find((l) => line.test(l));
  return found === undefined ? 0 : Number(found.split(' ').at(-1));
}

describe('routing strategies over HTTP (embedded targets)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        brokers: {
          a: { kind: 'embedded', dir: './a' },
          b: { kind: 'embedded', dir: './b' },
          down: DOWN,
        },
        routes: [
          { topic: 'split.**', split: { a: 90, b: 10 } },
          { topic: 'mirror.**', mirror: { primary: 'a', secondaries: ['b'] } },
          { topic: 'rr.**', balance: { mode: 'round-robin', targets: ['a', 'b'] } },
          { topic: 'fo.**', failover: ['down', 'a'], degrade: 'failover' },
          { topic: 'rej.**', target: 'down' },
          { topic: 'via-b.**', target: 'b', destination: '{1}' },
          { topic: '**', target: 'a' },
        ],
        admin: { keys: [ADMIN_KEY] },
      }),
    );
  });
  after(async () => {
    await gw.stop();
  });

  it(`split 90/10: 1,000 keyless messages land within ±${SPLIT_TOLERANCE} of 100 on the 10 % target`, async () => {
    const run = Date.now().toString(36);
    const topic = `split.even.${run}`;
    const results: BatchResult[] = [];
    for (let b = 0; b < 2; b++) {
      results.push(
        ...(await batch(
          gw.url,
          topic,
          Array.from({ length: 500 }, (_, i) => ({ value: { i } })),
        )),
      );
    }
    const onB = results.filter((r) => r.receipt?.target === 'b').length;
    const onA = results.filter((r) => r.receipt?.target === 'a').length;
    assert.equal(onA + onB, 1000);
    assert.ok(Math.abs(onB - 100) <= SPLIT_TOLERANCE, `b got ${onB} of 1000`);
    // What the targets hold agrees with the receipts.
    const inA = await readIds(gw.url, topic);
    const inB = await readIds(gw.url, `via-b.${topic}`);
    assert.equal(inA.length, onA);
    assert.equal(inB.length, onB);
    assert.equal(new Set([...inA, ...inB]).size, 1000);
    assert.equal(await metric(gw.url, /^pubgate_route_target_total\{route="split\.\*\*",target="b"\}/), onB);
  });

  it('split: keyed messages stick to one target per key (order-preserving)', async () => {
    const messages = Array.from({ length: 200 }, (_, i) => ({ key: `customer-${i % 10}`, value: { i } }));
    const results = await batch(gw.url, `split.keyed.${Date.now().toString(36)}`, messages);
    const targetOf = new Map<string, Set<string>>();
    results.forEach((r, i) => {
      const key = messages[i]!.key;
      targetOf.set(key, (targetOf.get(key) ?? new Set()).add(r.receipt!.target));
    });
    for (const [key, targets] of targetOf) assert.equal(targets.size, 1, `${key} went to ${[...targets]}`);
  });

  it('mirror: each message is in both targets with the same id; the primary answers', async () => {
    const topic = `mirror.orders.${Date.now().toString(36)}`;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify({ i }),
      });
      const json = (await res.json()) as { id: string; receipt: { target: string } };
      assert.equal(res.status, 201);
      assert.equal(json.receipt.target, 'a');
      ids.push(json.id);
    }
    assert.deepEqual(await readIds(gw.url, topic), ids);
    // The copies are published concurrently with the answer: wait briefly for the last ones.
    let copies: string[] = [];
    for (let t = 0; t < 50 && copies.length < ids.length; t++) {
      copies = await readIds(gw.url, `via-b.${topic}`);
      if (copies.length < ids.length) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(copies, ids);
    assert.ok(
      (await metric(gw.url, /^pubgate_mirror_publish_total\{target="b",outcome="confirmed"\}/)) >= 20,
    );
  });

  it('balance round-robin alternates the targets', async () => {
    const results = await batch(
      gw.url,
      `rr.x.${Date.now().toString(36)}`,
      Array.from({ length: 4 }, (_, i) => ({ value: { i } })),
    );
    // A batch is one choice per message, in order.
    assert.deepEqual(
      results.map((r) => r.receipt!.target),
      ['a', 'b', 'a', 'b'],
    );
  });

  it('failover: a target that never connected is skipped; the next one answers 201', async () => {
    const res = await fetch(`${gw.url}/v1/topics/fo.orders/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{}',
    });
    const json = (await res.json()) as { receipt: { target: string } };
    assert.equal(res.status, 201);
    assert.equal(json.receipt.target, 'a');
    assert.ok((await metric(gw.url, /^pubgate_degraded_total\{route="fo\.\*\*",action="failover"\}/)) >= 1);
  });

  it('reject: a target that never connected answers 503 + Retry-After at once', async () => {
    const res = await fetch(`${gw.url}/v1/topics/rej.orders/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{}',
    });
    const json = (await res.json()) as { code: string };
    assert.equal(res.status, 503);
    assert.equal(json.code, 'GW_ERR_BROKER_UNAVAILABLE');
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assertDocumented('/v1/topics/{topic}/messages', 'post', res, json);
  });

  it('GET /admin/v1/breakers shows every target, and needs the admin key', async () => {
    const denied = await fetch(`${gw.url}/admin/v1/breakers`, { headers: auth() });
    assert.equal(denied.status, 401);
    const res = await fetch(`${gw.url}/admin/v1/breakers`, { headers: auth(ADMIN_KEY) });
    const json = (await res.json()) as { targets: Record<string, { state: string; enabled: boolean }> };
    assert.equal(res.status, 200);
    assertDocumented('/admin/v1/breakers', 'get', res, json);
    assert.deepEqual(Object.keys(json.targets).sort(), ['a', 'b', 'down']);
    assert.equal(json.targets.a!.state, 'closed');
    assert.equal(json.targets.a!.enabled, true);
    assert.match(await (await fetch(`${gw.url}/metrics`)).text(), /^pubgate_breaker_state\{target="a"\} 0$/m);
  });
});
