/** The PostgreSQL outbox against the machine's PostgreSQL (db `test`), on a table unique to this run. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { silentLogger, type MessageEnvelope } from '../../core/index.js';
import { checkDeadLetterLifecycle, confirmAll } from '../../../test/support/outbox.js';
import { createPostgresOutbox } from './postgres-outbox.js';

const URL = 'postgres://postgres@127.0.0.1:5432/test';
const table = `pubgate_outbox_test_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const limits = { maxMessages: 10_000, maxBytes: 1 << 26, statusRetentionMs: 60_000, deadRetentionMs: 60_000 };

function envelope(id: string, key?: string): MessageEnvelope {
  return {
    id,
    tenant: 'acme',
    topic: 'orders',
    destination: 'orders',
    ...(key === undefined ? {} : { key }),
    payload: Buffer.from(id),
    contentType: 'text/plain',
    headers: { h: 'v' },
    createdAt: 1,
  };
}

describe('PostgreSQL outbox', () => {
  const a = createPostgresOutbox({ ...limits, url: URL, table, poolSize: 4 }, { logger: silentLogger });
  const b = createPostgresOutbox({ ...limits, url: URL, table, poolSize: 4 }, { logger: silentLogger });
  before(async () => {
    await a.open();
    await b.open();
  });
  after(async () => {
    await a.close();
    await b.close();
    const client = new pg.Client({ connectionString: URL });
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  });

  it('two relays claiming one table concurrently never get the same row, and keep key order', async () => {
    const messages = Array.from({ length: 200 }, (_, i) => ({
      envelope: envelope(`m${i}`, i % 2 === 0 ? `k${i % 10}` : undefined),
      target: 't',
    }));
    assert.equal((await a.append(messages)).kind, 'appended');
    const seen = new Map<string, string>();
    const order: string[] = [];
    for (let round = 0; round < 60 && seen.size < 200; round++) {
      const now = Date.now();
      const [ra, rb] = await Promise.all([
        a.claim({ limit: 25, owner: 'A', leaseMs: 60_000 }, now),
        b.claim({ limit: 25, owner: 'B', leaseMs: 60_000 }, now),
      ]);
      // A key's rows are in one replica's hands at a time (its run), never split across both.
      const keysOf = (rows: typeof ra) =>
        new Set(rows.flatMap((r) => (r.envelope.key ? [r.envelope.key] : [])));
      const shared = [...keysOf(ra)].filter((key) => keysOf(rb).has(key));
      assert.deepEqual(shared, [], `keys claimed by both replicas in round ${round}`);
      for (const [owner, rows, store] of [
        ['A', ra, a],
        ['B', rb, b],
      ] as const) {
        for (const row of rows) {
          assert.ok(
            !seen.has(row.envelope.id),
            `${row.envelope.id} claimed by ${seen.get(row.envelope.id)} and ${owner}`,
          );
          seen.set(row.envelope.id, owner);
          order.push(row.envelope.id);
        }
        await store.settle(confirmAll(rows, 'fake'), owner, Date.now());
      }
    }
    assert.equal(seen.size, 200);
    // Per key, claim order follows append order.
    for (let k = 0; k < 10; k += 2) {
      const ids = messages.filter((m) => m.envelope.key === `k${k}`).map((m) => m.envelope.id);
      assert.deepEqual(
        order.filter((id) => ids.includes(id)),
        ids,
      );
    }
    assert.equal((await a.status('acme', 'm0'))?.state, 'confirmed');
    assert.equal((await a.counts()).queued, 0);
  });

  it('claims a backlog of keyed and keyless rows in append order', async () => {
    const keys = ['k0', 'k1', 'k2', 'k3', undefined];
    const ids = Array.from({ length: 50 }, (_, i) => `mix${i}`);
    const appended = await a.append(
      ids.map((id, i) => ({ envelope: envelope(id, keys[i % 5]), target: 'mix' })),
    );
    assert.equal(appended.kind, 'appended');
    for (let round = 0; round < 5; round++) {
      const rows = await b.claim(
        { limit: 10, owner: 'B', leaseMs: 60_000, excludeTargets: ['t', 'qk', 'other'] },
        Date.now(),
      );
      assert.deepEqual(
        rows.map((r) => r.envelope.id),
        ids.slice(round * 10, round * 10 + 10),
        `claim ${round}`,
      );
      await b.settle(confirmAll(rows), 'B', Date.now());
    }
  });

  it("answers which keys have queued rows, to every replica (another replica's rows included)", async () => {
    const target = 'qk';
    assert.equal((await a.append([{ envelope: envelope('qk1', 'x'), target }])).kind, 'appended');
    assert.equal((await a.append([{ envelope: envelope('qk2', 'y'), target: 'other' }])).kind, 'appended');
    // b never appended anything and its cached counts may be stale: it asks the table.
    assert.deepEqual([...(await b.queuedKeys(target, ['x', 'y', 'z']))], ['x']);
    const rows = await b.claim({ limit: 10, owner: 'B', leaseMs: 60_000, excludeTargets: ['t'] }, Date.now());
    assert.deepEqual([...(await a.queuedKeys(target, ['x']))], ['x'], 'a leased row is still queued');
    assert.deepEqual(rows.map((r) => r.envelope.id).sort(), ['qk1', 'qk2']);
    // Both confirmed: the table holds no queued rows of this test afterwards.
    await b.settle(confirmAll(rows), 'B', Date.now());
    assert.deepEqual([...(await a.queuedKeys(target, ['x']))], []);
  });

  it('answers full beyond maxMessages, and lists and replays dead letters', async () => {
    const small = createPostgresOutbox(
      { ...limits, maxMessages: 1, url: URL, table, poolSize: 2 },
      { logger: silentLogger },
    );
    await small.open();
    try {
      assert.equal((await small.append([{ envelope: envelope('d1'), target: 't' }])).kind, 'appended');
      assert.equal((await small.append([{ envelope: envelope('d2'), target: 't' }])).kind, 'full');
      const [row] = await small.claim({ limit: 1, owner: 'S', leaseMs: 1_000 }, Date.now());
      await small.settle(
        [{ seq: row!.seq, kind: 'dead', attempts: 1, error: { code: 'ADP_ERR_REJECTED', message: 'nack' } }],
        'S',
        Date.now(),
      );
      const page = await small.listDead({ tenant: 'acme', topic: 'orders' }, 10);
      assert.deepEqual(
        page.items.map((i) => i.id),
        ['d1'],
      );
      assert.equal(await small.replayDead({ id: 'd1' }, Date.now()), 1);
      assert.equal((await small.status('acme', 'd1'))?.state, 'queued');
    } finally {
      await small.close();
    }
  });

  it('replays a dead letter with a fresh age and attempts; deletes one and purges by tenant and topic', async () => {
    // A table of its own: the relay of this test claims every queued row it finds.
    const own = `${table}_dl`;
    try {
      await checkDeadLetterLifecycle(async (now) => {
        const outbox = createPostgresOutbox(
          { ...limits, url: URL, table: own, poolSize: 2 },
          { logger: silentLogger, now },
        );
        await outbox.open();
        return outbox;
      });
    } finally {
      const client = new pg.Client({ connectionString: URL });
      await client.connect();
      await client.query(`DROP TABLE IF EXISTS ${own}`);
      await client.end();
    }
  });
});
