/**
 * The dead-letter admin API over HTTP on the embedded gateway: messages to a target that is down
 * (a RabbitMQ target on an unused port, its circuit breaker off so the relay tries it every pass)
 * die by `maxAgeSeconds`; inspecting one shows its exact payload (JSON and text as `value`, binary
 * as `valueBase64`), a replay gives it a fresh age and fresh attempts, and dead letters can be
 * deleted one by one or purged by tenant and topic (counted in a metric, logged with the admin key's
 * fingerprint).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Logger } from '../../adapters/core/index.js';
import { assertDocumented } from '../support/openapi.js';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';

const ADMIN_KEY = 'test-admin-key';
const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };
const DOWN = { kind: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:1', exchange: 'pubgate' };
const MAX_AGE_MS = 2_000;

type Json = Record<string, unknown>;

/** A logger that keeps every info line (fields with its bindings, and message). */
function recordingLogger(lines: Array<{ fields: Json; message?: string }>, bindings: Json = {}): Logger {
  const noop = () => {};
  return {
    debug: noop,
    warn: noop,
    error: noop,
    info(fields, message) {
      lines.push({
        fields: { ...bindings, ...(fields as Json) },
        ...(message === undefined ? {} : { message }),
      });
    },
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  };
}

async function publish(
  url: string,
  topic: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
) {
  const res = await fetch(`${url}/v1/topics/${topic}/messages`, {
    method: 'POST',
    headers: { ...auth(), prefer: 'respond-async', ...headers },
    body,
  });
  assert.equal(res.status, 202);
  return String(((await res.json()) as Json).id);
}

async function status(url: string, id: string) {
  const res = await fetch(`${url}/v1/messages/${id}`, { headers: auth() });
  return { res, json: (await res.json()) as Json };
}

async function admin(url: string, method: 'GET' | 'POST' | 'DELETE', path: string) {
  const res = await fetch(`${url}${path}`, { method, headers: ADMIN });
  return { res, json: (await res.json()) as Json };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const dead = (url: string, id: string) =>
  until(`${id} dead`, async () => ((await status(url, id)).json.status === 'dead' ? true : undefined));

async function deletedMetric(url: string, action: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`pubgate_dead_letters_deleted_total{target="down",action="${action}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('dead letters over the admin API', () => {
  let gw: TestGateway;
  const lines: Array<{ fields: Json; message?: string }> = [];
  const json = '{"order": 7, "name": "Zoë", "tags": ["a", "b"]}';
  const binary = Uint8Array.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x0a, 0x7f]);
  const text = 'plain text\nline two ✓';
  const ids: Record<'json' | 'binary' | 'text' | 'bulk', string> = {
    json: '',
    binary: '',
    text: '',
    bulk: '',
  };

  before(async () => {
    gw = await startGateway(
      embeddedConfig({
        brokers: { local: { kind: 'embedded', dir: './data' }, down: DOWN },
        routes: [
          { topic: 'dead.**', target: 'down', allowAsync: true },
          { topic: '**', target: 'local' },
        ],
        tenants: { dev: { keys: ['dev-key'], topics: ['**'] } },
        server: { host: '127.0.0.1', port: 0, publishTimeoutMs: 1000 },
        reliability: {
          relay: {
            pollIntervalMs: 50,
            maxAgeSeconds: MAX_AGE_MS / 1000,
            targetBackoffBaseMs: 0,
            targetBackoffMaxMs: 0,
          },
        },
        // No breaker on the down target: the relay tries its rows on every pass.
        breakers: { targets: { down: { enabled: false } } },
        admin: { keys: [ADMIN_KEY] },
      }),
      { logger: recordingLogger(lines) },
    );
    ids.json = await publish(gw.url, 'dead.json', json, {
      'content-type': 'application/json; charset=utf-8',
      'message-key': 'order-7',
      'ce-type': 'order.created',
    });
    ids.binary = await publish(gw.url, 'dead.binary', binary, { 'content-type': 'application/octet-stream' });
    ids.text = await publish(gw.url, 'dead.text', text, { 'content-type': 'text/plain' });
    ids.bulk = await publish(gw.url, 'dead.bulk', '{}', { 'content-type': 'application/json' });
    for (const id of Object.values(ids)) await dead(gw.url, id);
  });
  after(async () => {
    await gw?.stop();
  });

  it('inspecting a dead letter shows its exact payload: JSON and text as value, binary as valueBase64', async () => {
    const one = await admin(gw.url, 'GET', `/admin/v1/dead-letters/${ids.json}`);
    assert.equal(one.res.status, 200);
    assertDocumented('/admin/v1/dead-letters/{id}', 'get', one.res, one.json);
    assert.equal(one.json.value, json);
    assert.equal(one.json.valueBase64, undefined);
    assert.equal(one.json.key, 'order-7');
    assert.equal((one.json.headers as Json)['ce-type'], 'order.created');
    assert.equal(one.json.contentType, 'application/json; charset=utf-8');
    assert.equal(one.json.payloadBytes, Buffer.byteLength(json));
    assert.equal(one.json.status, 'dead');
    assert.equal(one.json.attempts, 1);
    assert.equal((one.json.lastError as Json).code, 'ADP_ERR_UNAVAILABLE');
    for (const field of ['createdAt', 'queuedAt', 'updatedAt'])
      assert.equal(typeof one.json[field], 'string');

    const bin = await admin(gw.url, 'GET', `/admin/v1/dead-letters/${ids.binary}`);
    assertDocumented('/admin/v1/dead-letters/{id}', 'get', bin.res, bin.json);
    assert.equal(bin.json.value, undefined);
    assert.deepEqual(Buffer.from(String(bin.json.valueBase64), 'base64'), Buffer.from(binary));

    const txt = await admin(gw.url, 'GET', `/admin/v1/dead-letters/${ids.text}?tenant=dev`);
    assert.equal(txt.json.value, text);
    const otherTenant = await admin(gw.url, 'GET', `/admin/v1/dead-letters/${ids.text}?tenant=other`);
    assert.equal(otherTenant.res.status, 404);

    // The list stays without payloads.
    const list = await admin(gw.url, 'GET', '/admin/v1/dead-letters?tenant=dev&topic=dead.json');
    assertDocumented('/admin/v1/dead-letters', 'get', list.res, list.json);
    const [item] = list.json.items as Json[];
    assert.equal(item!.id, ids.json);
    assert.equal(item!.value, undefined);
    assert.equal(item!.valueBase64, undefined);
  });

  it('a replay gives the message a fresh age and attempts: it is not dead again before maxAgeSeconds', async () => {
    const before = (await admin(gw.url, 'GET', `/admin/v1/dead-letters/${ids.json}`)).json;
    const replayedAt = Date.now();
    const replay = await admin(gw.url, 'POST', `/admin/v1/dead-letters/${ids.json}/replay`);
    assertDocumented('/admin/v1/dead-letters/{id}/replay', 'post', replay.res, replay.json);
    assert.deepEqual(replay.json, { replayed: 1 });
    const queued = await status(gw.url, ids.json);
    assert.equal(queued.json.status, 'queued');
    assert.equal(queued.json.attempts, 0);
    assert.equal(queued.json.createdAt, before.createdAt, 'the original created time is kept');

    // The relay tries it (its updatedAt moves) and keeps it queued: its age starts at the replay.
    const tried = await until('the relay to try the replayed message', async () => {
      const now = await status(gw.url, ids.json);
      return now.json.updatedAt !== queued.json.updatedAt ? now : undefined;
    });
    assert.equal(tried.json.status, 'queued', 'not dead again within milliseconds of its replay');
    assert.ok(Date.now() - replayedAt < MAX_AGE_MS, 'checked within the fresh age');

    await dead(gw.url, ids.json);
    assert.ok(Date.now() - replayedAt >= MAX_AGE_MS - 100, 'dead again only past the age from the replay');
    const after = (await admin(gw.url, 'GET', `/admin/v1/dead-letters/${ids.json}`)).json;
    assert.equal(after.createdAt, before.createdAt);
    assert.ok(Date.parse(String(after.queuedAt)) >= Date.parse(String(before.queuedAt)) + MAX_AGE_MS);
    assert.ok(Date.parse(String(after.queuedAt)) >= replayedAt - 5);

    // Bulk replay by tenant and topic does the same.
    const bulkAt = Date.now();
    const bulk = await admin(gw.url, 'POST', '/admin/v1/dead-letters/replay?tenant=dev&topic=dead.bulk');
    assertDocumented('/admin/v1/dead-letters/replay', 'post', bulk.res, bulk.json);
    assert.deepEqual(bulk.json, { replayed: 1 });
    const bulkQueued = await status(gw.url, ids.bulk);
    assert.equal(bulkQueued.json.status, 'queued');
    assert.equal(bulkQueued.json.attempts, 0);
    await until('the relay to try the bulk-replayed message', async () => {
      const now = await status(gw.url, ids.bulk);
      return now.json.updatedAt !== bulkQueued.json.updatedAt ? now : undefined;
    });
    assert.equal((await status(gw.url, ids.bulk)).json.status, 'queued');
    assert.ok(Date.now() - bulkAt < MAX_AGE_MS);
    await dead(gw.url, ids.bulk);
  });

  it('DELETE removes one dead letter (404 when unknown); logged and counted', async () => {
    const metricBefore = await deletedMetric(gw.url, 'delete');
    const removed = await admin(gw.url, 'DELETE', `/admin/v1/dead-letters/${ids.text}?tenant=other`);
    assert.equal(removed.res.status, 404, "another tenant's id is not deleted");
    const gone = await admin(gw.url, 'DELETE', `/admin/v1/dead-letters/${ids.text}`);
    assert.equal(gone.res.status, 200);
    assertDocumented('/admin/v1/dead-letters/{id}', 'delete', gone.res, gone.json);
    assert.deepEqual(gone.json, { deleted: 1 });
    assert.equal((await admin(gw.url, 'GET', `/admin/v1/dead-letters/${ids.text}`)).res.status, 404);
    assert.equal((await status(gw.url, ids.text)).res.status, 404);
    const again = await admin(gw.url, 'DELETE', `/admin/v1/dead-letters/${ids.text}`);
    assert.equal(again.res.status, 404);
    assertDocumented('/admin/v1/dead-letters/{id}', 'delete', again.res, again.json);
    assert.equal(again.json.code, 'GW_ERR_NOT_FOUND');
    const noKey = await fetch(`${gw.url}/admin/v1/dead-letters/${ids.binary}`, {
      method: 'DELETE',
      headers: auth(),
    });
    assert.equal(noKey.status, 401, 'a tenant key does not open the admin API');

    assert.equal(await deletedMetric(gw.url, 'delete'), metricBefore + 1);
    const line = lines.find((l) => l.message === 'dead letter deleted' && l.fields.id === ids.text);
    assert.ok(line, 'the deletion is logged');
    const fingerprint = `sha256:${createHash('sha256').update(ADMIN_KEY).digest('hex').slice(0, 12)}`;
    assert.equal(line.fields.adminKey, fingerprint);
    assert.equal(line.fields.deleted, 1);
    assert.ok(!JSON.stringify(line.fields).includes(ADMIN_KEY), 'the key itself is not logged');
  });

  it('a purge deletes the dead letters of a tenant and topic, refuses no filter, and all=true takes every one', async () => {
    for (const query of ['', '?topic=dead.json', '?all=yes', '?all=true&tenant=dev', '?tenant=bad name']) {
      const refused = await admin(gw.url, 'POST', `/admin/v1/dead-letters/purge${query}`);
      assert.equal(refused.res.status, 400, `purge${query}`);
      assertDocumented('/admin/v1/dead-letters/purge', 'post', refused.res, refused.json);
      assert.equal(refused.json.code, 'GW_ERR_INVALID_QUERY');
    }
    assert.equal(((await admin(gw.url, 'GET', '/admin/v1/dead-letters')).json.items as Json[]).length, 3);

    const purged = await admin(gw.url, 'POST', '/admin/v1/dead-letters/purge?tenant=dev&topic=dead.json');
    assert.equal(purged.res.status, 200);
    assertDocumented('/admin/v1/dead-letters/purge', 'post', purged.res, purged.json);
    assert.deepEqual(purged.json, { purged: 1 });
    assert.equal((await admin(gw.url, 'GET', `/admin/v1/dead-letters/${ids.json}`)).res.status, 404);
    const left = (await admin(gw.url, 'GET', '/admin/v1/dead-letters?tenant=dev')).json.items as Json[];
    assert.deepEqual(left.map((i) => i.id).sort(), [ids.binary, ids.bulk].sort(), 'other topics kept');
    assert.deepEqual((await admin(gw.url, 'POST', '/admin/v1/dead-letters/purge?tenant=nobody')).json, {
      purged: 0,
    });
    assert.equal(await deletedMetric(gw.url, 'purge'), 1);

    const everything = await admin(gw.url, 'POST', '/admin/v1/dead-letters/purge?all=true');
    assert.deepEqual(everything.json, { purged: 2 });
    assert.deepEqual((await admin(gw.url, 'GET', '/admin/v1/dead-letters')).json.items, []);
    assert.equal(await deletedMetric(gw.url, 'purge'), 3);
    const logged = lines.filter((l) => l.message === 'dead letters purged');
    assert.deepEqual(
      logged.map((l) => [l.fields.tenant, l.fields.topic, l.fields.all, l.fields.deleted]),
      [
        ['dev', 'dead.json', undefined, 1],
        ['nobody', undefined, undefined, 0],
        [undefined, undefined, true, 2],
      ],
    );
  });
});
