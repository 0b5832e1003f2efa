/** Idempotency-Key semantics (policies/idempotency) on the SQLite store. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../adapters/core/index.js';
import { createSqliteIdempotencyStore } from '../../adapters/reliability/idempotency/sqlite-idempotency-store.js';
import { createIdempotency, type IdempotencyStore } from '../../policies/idempotency/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-idem-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function setup(now = () => Date.now()) {
  const store = createSqliteIdempotencyStore(
    { file: path.join(dir, `${Math.random()}.db`) },
    { logger: silentLogger, now },
  );
  await store.open();
  return { store, idempotency: createIdempotency({ retentionMs: 1_000, lockTtlMs: 500 }, { store }) };
}

const request = (fingerprint: string, key = 'k1', tenant = 'acme') => ({
  tenant,
  method: 'POST',
  path: '/v1/topics/orders/messages',
  key,
  fingerprint,
});
const created = { status: 201, headers: { location: '/v1/messages/1' }, body: '{"id":"1"}' };

describe('Idempotency-Key semantics', () => {
  it('validates the header: absent, empty, too long, sent twice, one key', async () => {
    const { idempotency, store } = await setup();
    assert.equal(idempotency.parseKey(undefined).kind, 'absent');
    assert.equal(idempotency.parseKey(['']).kind, 'invalid');
    assert.equal(idempotency.parseKey(['x'.repeat(256)]).kind, 'invalid');
    assert.equal(idempotency.parseKey(['a', 'b']).kind, 'invalid');
    assert.deepEqual(idempotency.parseKey(['"abc-1"']), { kind: 'key', key: 'abc-1' });
    assert.deepEqual(idempotency.parseKey(['x'.repeat(255)]), { kind: 'key', key: 'x'.repeat(255) });
    await store.close();
  });

  it('50 concurrent requests with one key and body: exactly one proceeds, the others are in flight', async () => {
    const { idempotency, store } = await setup();
    const decisions = await Promise.all(Array.from({ length: 50 }, () => idempotency.begin(request('fp'))));
    assert.equal(decisions.filter((d) => d.kind === 'proceed').length, 1);
    assert.equal(decisions.filter((d) => d.kind === 'in-flight').length, 49);
    await store.close();
  });

  it('replays a completed answer, refuses another payload (mismatch), scopes keys per tenant', async () => {
    const { idempotency, store } = await setup();
    const first = await idempotency.begin(request('fp'));
    assert.equal(first.kind, 'proceed');
    if (first.kind === 'proceed') assert.equal((await first.finish(created)).kind, 'ok');
    const again = await idempotency.begin(request('fp'));
    assert.deepEqual(again, { kind: 'replay', response: created });
    assert.equal((await idempotency.begin(request('other'))).kind, 'mismatch');
    assert.equal((await idempotency.begin(request('fp', 'k1', 'globex'))).kind, 'proceed');
    await store.close();
  });

  it('releases the key after a 5xx answer so the client may retry', async () => {
    const { idempotency, store } = await setup();
    const first = await idempotency.begin(request('fp'));
    assert.equal(first.kind, 'proceed');
    if (first.kind === 'proceed') await first.finish({ status: 503, headers: {}, body: '{}' });
    assert.equal((await idempotency.begin(request('fp'))).kind, 'proceed');
    await store.close();
  });

  it('forgets answers after the retention window', async () => {
    let now = 1_000;
    const { idempotency, store } = await setup(() => now);
    const first = await idempotency.begin(request('fp'));
    if (first.kind === 'proceed') await first.finish(created);
    now += 1_001;
    assert.equal((await idempotency.begin(request('fp'))).kind, 'proceed');
    await store.close();
  });

  it('answers unavailable when the store cannot answer (never skips dedup)', async () => {
    const down: IdempotencyStore = {
      kind: 'down',
      begin: async () => ({ kind: 'unavailable', detail: 'connection refused' }),
      complete: async () => ({ kind: 'unavailable', detail: 'x' }),
      release: async () => ({ kind: 'unavailable', detail: 'x' }),
    };
    const idempotency = createIdempotency({ retentionMs: 1, lockTtlMs: 1 }, { store: down });
    assert.equal((await idempotency.begin(request('fp'))).kind, 'unavailable');
  });
});
