/** Delayed delivery in the SQLite outbox: due times, per-key order, cancellation, restarts. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger, type MessageEnvelope } from '../../core/index.js';
import type { ClaimedRow, Outbox } from './outbox.js';
import { createSqliteOutbox } from './sqlite-outbox.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-outbox-delay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const limits = { maxMessages: 1000, maxBytes: 1 << 20, statusRetentionMs: 60_000, deadRetentionMs: 60_000 };
let n = 0;
function envelope(options: { key?: string; deliverAt?: number } = {}): MessageEnvelope {
  n++;
  return {
    id: `d-${n}`,
    tenant: 'acme',
    topic: 'orders',
    destination: 'orders',
    ...(options.key === undefined ? {} : { key: options.key }),
    payload: Buffer.from(`payload ${n}`),
    contentType: 'text/plain',
    headers: {},
    ...(options.deliverAt === undefined ? {} : { deliverAt: options.deliverAt }),
    createdAt: 1,
  };
}

async function open(name: string, clock: { now: number }): Promise<Outbox> {
  const outbox = createSqliteOutbox(
    { ...limits, file: path.join(dir, name, 'outbox.db') },
    { logger: silentLogger, now: () => clock.now },
  );
  await outbox.open();
  return outbox;
}

const ids = (rows: readonly ClaimedRow[]) => rows.map((r) => r.envelope.id);
const claimAt = (outbox: Outbox, at: number, owner = 'r', leaseMs = 1_000) =>
  outbox.claim({ limit: 50, owner, leaseMs }, at);
function confirmAll(outbox: Outbox, rows: readonly ClaimedRow[], at: number, owner = 'r') {
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

describe('SQLite outbox: delayed messages', () => {
  it('does not claim a row before its deliverAt, claims it once due; status scheduled until then', async () => {
    const clock = { now: 10 };
    const outbox = await open('due', clock);
    const later = envelope({ deliverAt: 1_000 });
    const soon = envelope({ deliverAt: 500 });
    await outbox.append([later, soon].map((e) => ({ envelope: e, target: 't' })));

    assert.deepEqual(await claimAt(outbox, 10), []);
    assert.equal(await outbox.nextDueAt(10), 500);
    const status = await outbox.status('acme', later.id, 10);
    assert.equal(status?.state, 'scheduled');
    assert.equal(status?.deliverAt, 1_000);
    const counts = await outbox.counts();
    assert.equal(counts.queued, 2);
    assert.equal(counts.scheduled, 2);

    assert.deepEqual(await claimAt(outbox, 499), []);
    const first = await claimAt(outbox, 500);
    assert.deepEqual(ids(first), [soon.id]);
    assert.equal(first[0]!.envelope.deliverAt, 500, 'the claimed envelope keeps its deliverAt');
    await confirmAll(outbox, first, 501);
    assert.equal(await outbox.nextDueAt(501), 1_000);
    // Due but not yet claimed: queued (no longer scheduled).
    assert.equal((await outbox.status('acme', later.id, 1_000))?.state, 'queued');
    assert.deepEqual(ids(await claimAt(outbox, 1_000)), [later.id]);
    assert.equal(await outbox.nextDueAt(1_000), undefined);
    await outbox.close();
  });

  it('per key: a row not due yet holds nothing back; once due it waits for earlier rows of its key', async () => {
    const clock = { now: 10 };
    const outbox = await open('order', clock);
    const k1 = envelope({ key: 'k' });
    const k2 = envelope({ key: 'k', deliverAt: 100 });
    const k3 = envelope({ key: 'k' });
    await outbox.append([k1, k2, k3].map((e) => ({ envelope: e, target: 't' })));
    // k3 goes with k1 (its run steps over the scheduled k2).
    const now = await claimAt(outbox, 10);
    assert.deepEqual(ids(now), [k1.id, k3.id]);
    await confirmAll(outbox, now, 11);
    // A spool route's sync publishes of key k are not held back by k2 either.
    assert.equal((await outbox.queuedKeys('t', ['k'])).size, 0);

    // Key j: j1 (immediate) waits out a retry backoff until 300; j2 (delayed) is due at 100.
    const j1 = envelope({ key: 'j' });
    const j2 = envelope({ key: 'j', deliverAt: 100 });
    const j3 = envelope({ key: 'j' });
    await outbox.append([j1, j2].map((e) => ({ envelope: e, target: 't' })));
    const [claimedJ1] = await claimAt(outbox, 20);
    assert.equal(claimedJ1!.envelope.id, j1.id);
    await outbox.settle(
      [
        {
          seq: claimedJ1!.seq,
          kind: 'retry',
          attempts: 1,
          nextAttemptAt: 300,
          error: { code: 'ADP_ERR_TIMEOUT', message: 'x' },
        },
      ],
      'r',
      21,
    );
    await outbox.append([{ envelope: j3, target: 't' }]);
    // At 150 k2 and j2 are due; k2 goes, j2 does not overtake j1 (nor does j3).
    const due = await claimAt(outbox, 150);
    assert.deepEqual(ids(due), [k2.id]);
    await confirmAll(outbox, due, 151);
    // Once j1 may go again, the key drains in append order: j1, j2, j3.
    assert.deepEqual(ids(await claimAt(outbox, 300)), [j1.id, j2.id, j3.id]);
    await outbox.close();
  });

  it('cancels a scheduled row atomically: never both cancelled and claimed', async () => {
    const clock = { now: 10 };
    const outbox = await open('cancel', clock);
    const plain = envelope();
    const rows = Array.from({ length: 40 }, () => envelope({ deliverAt: 100 }));
    await outbox.append([plain, ...rows].map((e) => ({ envelope: e, target: 't' })));
    const before = await outbox.counts();

    // Race: claims and cancels interleave around the due time.
    const results = await Promise.all([
      ...rows.slice(0, 20).map((e) => outbox.cancel('acme', e.id, 100)),
      claimAt(outbox, 100, 'r', 1_000),
      ...rows.slice(20).map((e) => outbox.cancel('acme', e.id, 100)),
    ]);
    const claimed = new Set(ids(results[20] as ClaimedRow[]));
    const outcomes = [...results.slice(0, 20), ...results.slice(21)] as Awaited<
      ReturnType<Outbox['cancel']>
    >[];
    outcomes.forEach((outcome, i) => {
      const id = rows[i]!.id;
      if (claimed.has(id)) assert.equal(outcome.kind, 'not-cancellable', id);
      else assert.equal(outcome.kind, 'cancelled', id);
    });
    assert.ok(claimed.has(plain.id));
    assert.equal(claimed.size + outcomes.filter((o) => o.kind === 'cancelled').length, 41);

    const cancelledId = rows.find((r) => !claimed.has(r.id))!.id;
    assert.equal((await outbox.status('acme', cancelledId))?.state, 'cancelled');
    // Cancelling again answers cancelled again; a claimed one stays not cancellable.
    assert.equal((await outbox.cancel('acme', cancelledId, 200)).kind, 'cancelled');
    const claimedDelayed = rows.find((r) => claimed.has(r.id));
    if (claimedDelayed) {
      assert.equal((await outbox.cancel('acme', claimedDelayed.id, 200)).kind, 'not-cancellable');
    }
    // A message that was not delayed, another tenant's, an unknown one.
    assert.equal((await outbox.cancel('acme', plain.id, 200)).kind, 'not-cancellable');
    assert.equal((await outbox.cancel('other', cancelledId, 200)).kind, 'not-found');
    assert.equal((await outbox.cancel('acme', 'nope', 200)).kind, 'not-found');
    // Cancelled rows leave the queue (and its bounds).
    const counts = await outbox.counts();
    const cancelledCount = outcomes.filter((o) => o.kind === 'cancelled').length;
    assert.equal(counts.cancelled, cancelledCount);
    assert.equal(counts.queued, before.queued - cancelledCount);
    await confirmAll(outbox, results[20] as ClaimedRow[], 300);
    assert.deepEqual(await claimAt(outbox, 5_000, 'other'), [], 'cancelled rows are never claimed');
    await outbox.close();
  });

  it('a row tried once (retry) is no longer cancellable', async () => {
    const outbox = await open('tried', { now: 10 });
    const e = envelope({ deliverAt: 50 });
    await outbox.append([{ envelope: e, target: 't' }]);
    const [row] = await claimAt(outbox, 50);
    await outbox.settle(
      [
        {
          seq: row!.seq,
          kind: 'retry',
          attempts: 1,
          nextAttemptAt: 60,
          error: { code: 'ADP_ERR_TIMEOUT', message: 'may have been written' },
        },
      ],
      'r',
      51,
    );
    assert.equal((await outbox.cancel('acme', e.id, 52)).kind, 'not-cancellable');
    await outbox.close();
  });

  it('survives a reopen: still scheduled, then claimed once due; a claim a crash interrupted is not cancellable', async () => {
    const clock = { now: 10 };
    const first = await open('reopen', clock);
    const waiting = envelope({ deliverAt: 1_000 });
    const inFlight = envelope({ deliverAt: 20 });
    await first.append([waiting, inFlight].map((e) => ({ envelope: e, target: 't' })));
    assert.deepEqual(ids(await claimAt(first, 20, 'dead-relay', 60_000)), [inFlight.id]);
    await first.close(); // as after kill -9: the lease is still held in the file

    const second = await open('reopen', clock);
    assert.equal((await second.status('acme', waiting.id, 30))?.state, 'scheduled');
    assert.equal((await second.cancel('acme', inFlight.id, 30)).kind, 'not-cancellable');
    assert.deepEqual(ids(await claimAt(second, 30)), [inFlight.id]);
    assert.deepEqual(ids(await claimAt(second, 999, 'r2')), []);
    assert.deepEqual(ids(await claimAt(second, 1_000, 'r2')), [waiting.id]);
    await second.close();
  });
});
