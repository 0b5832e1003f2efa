/**
 * Transactional (half) messages over HTTP on the embedded broker: prepared messages stay invisible
 * until a commit, never appear after a rollback, and an undecided transaction is resolved by its
 * check-back URL or the default — also across a gateway kill -9.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertDocumented } from '../support/openapi.js';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';

type Json = Record<string, unknown>;

async function call(url: string, method: string, pathname: string, body?: unknown, headers: Json = {}) {
  const res = await fetch(`${url}${pathname}`, {
    method,
    headers: {
      ...auth(),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    } as Record<string, string>,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { res, json: (text ? JSON.parse(text) : {}) as Json };
}

/** The messages a topic holds on the embedded broker, as the read API shows them. */
async function stored(
  url: string,
  topic: string,
): Promise<Array<{ id: string; value?: string; key?: string }>> {
  const { json } = await call(url, 'GET', `/v1/topics/${topic}/messages?limit=1000`);
  return json.messages as Array<{ id: string; value?: string; key?: string }>;
}

/** Waits until `topic` holds `count` messages (or the time is up), then returns them. */
async function storedWhen(url: string, topic: string, count: number, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let messages = await stored(url, topic);
  while (messages.length < count && Date.now() < deadline) {
    await sleep(100);
    messages = await stored(url, topic);
  }
  return messages;
}

async function open(url: string, body?: Json) {
  const { res, json } = await call(url, 'POST', '/v1/transactions', body ?? {});
  assert.equal(res.status, 201, JSON.stringify(json));
  return json.id as string;
}

async function publish(url: string, topic: string, tx: string, value: Json, headers: Json = {}) {
  return call(url, 'POST', `/v1/topics/${topic}/messages`, value, { 'transaction-id': tx, ...headers });
}

describe('transactions over HTTP (embedded broker)', () => {
  let gw: TestGateway;
  let checkServer: Server;
  let checkUrl = '';
  let checkAnswer = 'commit';
  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        tenants: {
          dev: { keys: ['dev-key'], topics: ['**'] },
          other: { keys: ['other-key'], topics: ['**'] },
        },
        transactions: {
          maxChecks: 1,
          checkBackoff: { initialDelayMs: 10, maxDelayMs: 10 },
          sweepIntervalMs: 100,
        },
      }),
    );
    checkServer = createServer((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ decision: checkAnswer }));
    });
    await new Promise<void>((r) => checkServer.listen(0, '127.0.0.1', r));
    checkUrl = `http://127.0.0.1:${(checkServer.address() as AddressInfo).port}/check`;
  });
  after(async () => {
    checkServer.close();
    await gw.stop();
  });

  it('commit: prepared messages stay invisible, then all arrive in publish order with their bytes', async () => {
    const topic = 'tx.commit';
    const tx = await open(gw.url, { timeoutSeconds: 60 });
    const one = await publish(gw.url, topic, tx, { n: 1 }, { 'message-key': 'k' });
    assert.equal(one.res.status, 202);
    assert.equal(one.json.status, 'prepared');
    assert.equal(one.json.transactionId, tx);
    assertDocumented('/v1/topics/{topic}/messages', 'post', one.res, one.json);
    const batch = await call(
      gw.url,
      'POST',
      `/v1/topics/${topic}/messages/batch`,
      '{"messages":[{"key":"k","value":{"n": 2}},{"value":12345678901234567890}]}',
      { 'transaction-id': tx },
    );
    assert.equal(batch.res.status, 202);
    assert.deepEqual(
      (batch.json.results as Json[]).map((r) => r.status),
      ['prepared', 'prepared'],
    );
    const status = await call(gw.url, 'GET', `/v1/transactions/${tx}`);
    assert.equal(status.json.status, 'open');
    assert.equal(status.json.messages, 3);
    await sleep(500);
    assert.deepEqual(await stored(gw.url, topic), [], 'nothing visible before the commit');

    const commit = await call(gw.url, 'POST', `/v1/transactions/${tx}/commit`);
    assert.equal(commit.res.status, 200, JSON.stringify(commit.json));
    assert.equal(commit.json.status, 'committed');
    assert.equal(commit.json.messages, 3);
    const messages = await storedWhen(gw.url, topic, 3);
    assert.deepEqual(
      messages.map((m) => m.value),
      ['{"n":1}', '{"n": 2}', '12345678901234567890'],
      'every message, in publish order, bytes as sent',
    );
    assert.equal(messages[0]!.id, one.json.id);
    assert.equal((await call(gw.url, 'POST', `/v1/transactions/${tx}/commit`)).res.status, 200, 'idempotent');
    assert.equal((await call(gw.url, 'POST', `/v1/transactions/${tx}/rollback`)).res.status, 409);
    const late = await publish(gw.url, topic, tx, { n: 4 });
    assert.equal(late.res.status, 409, 'a decided transaction takes no more messages');
    await sleep(300);
    assert.equal((await stored(gw.url, topic)).length, 3, 'no duplicates from the repeated commit');
  });

  it('rollback: none of its messages ever arrives', async () => {
    const topic = 'tx.rollback';
    const tx = await open(gw.url);
    const prepared = await publish(gw.url, topic, tx, { n: 1 });
    assert.equal(prepared.res.status, 202);
    const statusOf = () => call(gw.url, 'GET', `/v1/messages/${String(prepared.json.id)}`);
    const before = await statusOf();
    assertDocumented('/v1/messages/{id}', 'get', before.res, before.json);
    assert.equal(before.json.status, 'prepared');
    assert.equal(before.json.transactionId, tx);
    const rollback = await call(gw.url, 'POST', `/v1/transactions/${tx}/rollback`);
    assert.equal(rollback.res.status, 200);
    assert.equal(rollback.json.status, 'rolled-back');
    assert.equal((await call(gw.url, 'POST', `/v1/transactions/${tx}/rollback`)).res.status, 200);
    assert.equal((await call(gw.url, 'POST', `/v1/transactions/${tx}/commit`)).res.status, 409);
    assert.equal((await statusOf()).json.status, 'rolled-back');
    await sleep(1_000);
    assert.deepEqual(await stored(gw.url, topic), []);
  });

  it('belongs to its tenant; bad requests get 400, unknown transactions 404', async () => {
    const tx = await open(gw.url);
    const other = { authorization: 'Bearer other-key' };
    assert.equal((await call(gw.url, 'GET', `/v1/transactions/${tx}`, undefined, other)).res.status, 404);
    assert.equal(
      (await call(gw.url, 'POST', `/v1/transactions/${tx}/commit`, undefined, other)).res.status,
      404,
    );
    assert.equal((await publish(gw.url, 'tx.other', tx, { n: 1 }, other)).res.status, 404);
    assert.equal((await publish(gw.url, 'tx.other', 'no-such-tx', { n: 1 })).res.status, 404);
    for (const body of [{ timeoutSeconds: 0 }, { checkUrl: 'ftp://x' }, { extra: 1 }, '{']) {
      const { res, json } = await call(gw.url, 'POST', '/v1/transactions', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(String(json.code), /GW_ERR_INVALID_(TRANSACTION|JSON)/);
    }
    assert.equal(
      (await call(gw.url, 'POST', '/v1/transactions', {}, { authorization: 'Bearer nope' })).res.status,
      401,
    );
  });

  for (const [answer, arrives] of [
    ['commit', true],
    ['rollback', false],
    ['unknown', false], // maxChecks 1, then the default: rollback
  ] as const) {
    it(`left open past its timeout: the check-back answers ${answer}`, async () => {
      checkAnswer = answer;
      const topic = `tx.check.${answer}`;
      const tx = await open(gw.url, { timeoutSeconds: 1, checkUrl });
      assert.equal((await publish(gw.url, topic, tx, { n: 1 })).res.status, 202);
      const deadline = Date.now() + 10_000;
      let state = 'open';
      while (state === 'open' && Date.now() < deadline) {
        await sleep(100);
        state = (await call(gw.url, 'GET', `/v1/transactions/${tx}`)).json.status as string;
      }
      assert.equal(state, arrives ? 'committed' : 'rolled-back');
      const messages = await storedWhen(gw.url, topic, 1, arrives ? 5_000 : 1_000);
      assert.equal(messages.length, arrives ? 1 : 0);
    });
  }
});

describe('transactions across a gateway kill -9 (embedded broker)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-tx-crash-'));
  let gateway: GatewayProcess | undefined;
  after(async () => {
    await gateway?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
  const config = embeddedConfig({ log: { level: 'warn' }, transactions: { sweepIntervalMs: 100 } });

  it('prepared before the kill: a commit after the restart delivers everything; an undecided one times out', async () => {
    gateway = await startGatewayProcess(config, { dir });
    const committed = await open(gateway.url, { timeoutSeconds: 600 });
    const abandoned = await open(gateway.url, { timeoutSeconds: 3 });
    for (let n = 0; n < 3; n++) {
      assert.equal((await publish(gateway.url, 'tx.crash', committed, { n })).res.status, 202);
    }
    assert.equal((await publish(gateway.url, 'tx.crash.abandoned', abandoned, { n: 0 })).res.status, 202);
    gateway.kill('SIGKILL');
    await gateway.exited();

    gateway = await startGatewayProcess(config, { dir });
    assert.equal((await call(gateway.url, 'GET', `/v1/transactions/${committed}`)).json.messages, 3);
    assert.deepEqual(await stored(gateway.url, 'tx.crash'), []);
    assert.equal((await call(gateway.url, 'POST', `/v1/transactions/${committed}/commit`)).res.status, 200);
    const messages = await storedWhen(gateway.url, 'tx.crash', 3);
    assert.deepEqual(
      messages.map((m) => m.value),
      ['{"n":0}', '{"n":1}', '{"n":2}'],
    );
    // The abandoned one: its 3 s ran out across the restart; the default (rollback) applied.
    const deadline = Date.now() + 10_000;
    let state = 'open';
    while (state === 'open' && Date.now() < deadline) {
      await sleep(200);
      state = (await call(gateway.url, 'GET', `/v1/transactions/${abandoned}`)).json.status as string;
    }
    assert.equal(state, 'rolled-back');
    assert.deepEqual(await stored(gateway.url, 'tx.crash.abandoned'), []);
  });
});
