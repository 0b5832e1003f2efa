/**
 * Overload shedding over HTTP: with requests piling up in flight (bodies still uploading), a
 * low-priority tenant is refused with 503 GW_ERR_OVERLOADED and Retry-After while a high-priority
 * tenant is still served; every held request completes once its body arrives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';
import { heldPublish, metric, until, type HeldRequest } from './held-request.js';

const tenants = {
  bulk: { keys: ['bulk-key'], topics: ['**'], priority: 'low' },
  std: { keys: ['std-key'], topics: ['**'], priority: 'normal' },
  vip: { keys: ['vip-key'], topics: ['**'], priority: 'high' },
};

function publish(url: string, key: string) {
  return fetch(`${url}/v1/topics/load.test/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '{"n":1}',
  });
}

describe('overload shedding by tenant priority', () => {
  let gw: TestGateway;
  before(async () => {
    // An event-loop threshold no test machine reaches: only requests in flight count here.
    gw = await startGateway(
      embeddedConfig({ tenants, overload: { maxInFlight: 4, maxEventLoopDelayMs: 60_000 } }),
    );
  });
  after(() => gw.stop());

  it('sheds low priority first; high priority is still served', async () => {
    const held: HeldRequest[] = [];
    for (let i = 0; i < 3; i++) held.push(heldPublish(gw.url, 'load.test', 'vip-key'));
    // 3 of 4 in flight: load 0.75, past low (0.6), below normal (0.85) and high (1.0).
    await until(async () => (await metric(gw.url, 'pubgate_load')) === 0.75, 'three requests in flight');

    const low = await publish(gw.url, 'bulk-key');
    assert.equal(low.status, 503);
    assert.equal(low.headers.get('retry-after'), '1');
    assert.equal(((await low.json()) as { code: string }).code, 'GW_ERR_OVERLOADED');

    const high = await publish(gw.url, 'vip-key');
    assert.equal(high.status, 201, 'a high-priority request is admitted at 0.75');
    const normal = await publish(gw.url, 'std-key');
    assert.equal(normal.status, 201, 'normal is admitted below 0.85');

    // A fourth held request: load 1.0, so even normal is shed now (high too, the gateway is full).
    held.push(heldPublish(gw.url, 'load.test', 'vip-key'));
    await until(async () => (await metric(gw.url, 'pubgate_load')) === 1, 'four requests in flight');
    assert.equal((await publish(gw.url, 'std-key')).status, 503);
    assert.equal((await publish(gw.url, 'vip-key')).status, 503);

    // Everything held completes; capacity comes back; low priority is served again.
    const answers = await Promise.all(held.map((h) => h.finish()));
    assert.deepEqual(
      answers.map((a) => a.status),
      [201, 201, 201, 201],
    );
    await until(async () => (await metric(gw.url, 'pubgate_load')) === 0, 'nothing in flight');
    assert.equal((await publish(gw.url, 'bulk-key')).status, 201);

    assert.equal(await metric(gw.url, 'pubgate_shed_total{tenant="bulk",priority="low"}'), 1);
    assert.equal(await metric(gw.url, 'pubgate_shed_total{tenant="std",priority="normal"}'), 1);
    assert.equal(await metric(gw.url, 'pubgate_shed_total{tenant="vip",priority="high"}'), 1);
  });

  it('never sheds when overload.enabled is false', async () => {
    const off = await startGateway(embeddedConfig({ tenants, overload: { enabled: false, maxInFlight: 1 } }));
    try {
      const held = heldPublish(off.url, 'load.test', 'vip-key');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await publish(off.url, 'bulk-key')).status, 201);
      assert.equal((await held.finish()).status, 201);
    } finally {
      await off.stop();
    }
  });
});
