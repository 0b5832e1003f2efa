/**
 * Delayed delivery in the PostgreSQL outbox (the machine's PostgreSQL, db `test`, a table unique to
 * this run): due times, per-key order, and cancel racing two replicas' claims.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { silentLogger, type MessageEnvelope } from '../../core/index.js';
import type { CancelOutcome, ClaimedRow, Outbox } from './outbox.js';
import { createPostgresOutbox } from './postgres-outbox.js';

const URL = 'postgres://postgres@127.0.0.1:5432/test';
const table = `pubgate_outbox_delay_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const limits = { maxMessages: 10_000, maxBytes: 1 << 26, statusRetentionMs: 60_000, deadRetentionMs: 60_000 };

function envelope(id: string, options: { key?: string; deliverAt?: number } = {}): MessageEnvelope {
  return {
    id,
    tenant: 'acme',
    topic: 'orders',
    destination: 'orders',
    ...(options.key === undefined ? {} : { key: options.key }),
    payload: Buffer.from(id),
    contentType: 'text/plain',
    headers: {},
    ...(options.deliverAt === undefined ? {} : { deliverAt: options.deliverAt }),
    createdAt: 1,
  };
}

const ids = (rows: readonly ClaimedRow[]) => rows.map((r) => r.envelope.id);
function confirm(outbox: Outbox, rows: readonly ClaimedRow[], owner: string, at: number) {
  return outbox.settle(
    rows.map((row) => ({
      seq: row.seq,
      kind: 'confirmed' as const,
      attempts: 1,
      receipt: { messageId: row.envelope.id, broker: 'x', target: row.target },
    })),
    owner,
    at,
  );
}

describe('PostgreSQL outbox: delayed messages', () => {
  const a = createPostgresOutbox({ ...limits, url: URL, table, poolSize: 8 }, { logger: silentLogger });
  const b = createPostgresOutbox({ ...limits, url: URL, table, poolSize: 8 }, { logger: silentLogger });
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

  it('claims a row only once due; a row not due yet does not hold back its key', async () => {
    const base = 1_000_000;
    await a.append([
      { envelope: envelope('p1', { key: 'pk', deliverAt: base + 500 }), target: 'pt' },
      { envelope: envelope('p2', { key: 'pk' }), target: 'pt' },
      { envelope: envelope('p3', { deliverAt: base + 800 }), target: 'pt' },
    ]);
    assert.equal((await a.status('acme', 'p1', base))?.state, 'scheduled');
    assert.equal((await a.status('acme', 'p1', base))?.deliverAt, base + 500);
    assert.equal(await a.nextDueAt(base), base + 500);
    assert.equal((await a.queuedKeys('pt', ['pk'])).size, 1, 'p2 (immediate) is queued for key pk');
    const first = await a.claim({ limit: 10, owner: 'A', leaseMs: 60_000 }, base);
    assert.deepEqual(ids(first), ['p2']);
    await confirm(a, first, 'A', base + 1);
    assert.deepEqual(await b.claim({ limit: 10, owner: 'B', leaseMs: 60_000 }, base + 499), []);
    const due = await b.claim({ limit: 10, owner: 'B', leaseMs: 60_000 }, base + 800);
    assert.deepEqual(ids(due), ['p1', 'p3']);
    await confirm(b, due, 'B', base + 801);
    assert.equal(await a.nextDueAt(base + 801), undefined);
  });

  it('a due delayed row does not overtake an earlier row of its key waiting out a retry', async () => {
    const base = 2_000_000;
    await a.append([
      { envelope: envelope('q1', { key: 'qk' }), target: 'qt' },
      { envelope: envelope('q2', { key: 'qk', deliverAt: base + 100 }), target: 'qt' },
    ]);
    const [q1] = await a.claim({ limit: 10, owner: 'A', leaseMs: 60_000 }, base);
    assert.equal(q1?.envelope.id, 'q1');
    await a.settle(
      [
        {
          seq: q1!.seq,
          kind: 'retry',
          attempts: 1,
          nextAttemptAt: base + 300,
          error: { code: 'ADP_ERR_TIMEOUT', message: 'x' },
        },
      ],
      'A',
      base + 1,
    );
    assert.deepEqual(await b.claim({ limit: 10, owner: 'B', leaseMs: 60_000 }, base + 200), []);
    const run = await b.claim({ limit: 10, owner: 'B', leaseMs: 60_000 }, base + 300);
    assert.deepEqual(ids(run), ['q1', 'q2']);
    await confirm(b, run, 'B', base + 301);
  });

  it('cancel racing two replicas’ claims: each row is either cancelled or claimed, never both', async () => {
    const base = 3_000_000;
    const rows = Array.from({ length: 60 }, (_, i) => envelope(`c${i}`, { deliverAt: base + 10 }));
    await a.append(rows.map((e) => ({ envelope: e, target: 'ct' })));
    const cancels = rows.map((e, i) => (i % 2 === 0 ? a : b).cancel('acme', e.id, base + 10));
    const claims = [
      a.claim({ limit: 20, owner: 'A', leaseMs: 60_000 }, base + 10),
      b.claim({ limit: 20, owner: 'B', leaseMs: 60_000 }, base + 10),
      a.claim({ limit: 20, owner: 'A', leaseMs: 60_000 }, base + 10),
    ];
    const outcomes: CancelOutcome[] = await Promise.all(cancels);
    const claimed = new Set((await Promise.all(claims)).flatMap(ids));
    outcomes.forEach((outcome, i) => {
      const id = rows[i]!.id;
      assert.equal(outcome.kind, claimed.has(id) ? 'not-cancellable' : 'cancelled', id);
    });
    // Nothing left to claim (within the leases): every row went one way or the other.
    assert.deepEqual(await a.claim({ limit: 100, owner: 'A2', leaseMs: 60_000 }, base + 20), []);
    const counts = await a.counts();
    assert.equal(counts.cancelled, outcomes.filter((o) => o.kind === 'cancelled').length);
    // A claimed one stays not cancellable; a cancelled one answers cancelled again; another tenant: not found.
    const someClaimed = rows.find((r) => claimed.has(r.id));
    if (someClaimed)
      assert.equal((await b.cancel('acme', someClaimed.id, base + 20)).kind, 'not-cancellable');
    const someCancelled = rows.find((r) => !claimed.has(r.id));
    if (someCancelled) {
      assert.equal((await b.cancel('acme', someCancelled.id, base + 20)).kind, 'cancelled');
      assert.equal((await b.status('acme', someCancelled.id))?.state, 'cancelled');
    }
    assert.equal((await a.cancel('other', 'c0', base + 20)).kind, 'not-found');
  });
});
