import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger, type MessageEnvelope } from '../../core/index.js';
import { checkDeadLetterLifecycle, confirmAll } from '../../../test/support/outbox.js';
import { createSqliteOutbox } from './sqlite-outbox.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-outbox-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const limits = { maxMessages: 1000, maxBytes: 1 << 20, statusRetentionMs: 60_000, deadRetentionMs: 60_000 };
let n = 0;
function envelope(key?: string, tenant = 'acme'): MessageEnvelope {
  n++;
  return {
    id: `m-${n}`,
    tenant,
    topic: 'orders',
    destination: 'orders',
    ...(key === undefined ? {} : { key }),
    payload: Buffer.from(`payload ${n}`),
    contentType: 'text/plain',
    headers: { 'ce-type': 'x' },
    createdAt: 1_000,
  };
}

describe('SQLite outbox', () => {
  it('appends durably, survives a reopen, and claims per key in order', async () => {
    const file = path.join(dir, 'order', 'outbox.db');
    const first = createSqliteOutbox({ ...limits, file }, { logger: silentLogger, now: () => 10 });
    await first.open();
    const a1 = envelope('a');
    const a2 = envelope('a');
    const b1 = envelope('b');
    const free = envelope();
    // Concurrent appends share one transaction; all three resolve appended.
    const outcomes = await Promise.all([
      first.append([{ envelope: a1, target: 't' }]),
      first.append([
        { envelope: a2, target: 't' },
        { envelope: b1, target: 't' },
      ]),
      first.append([{ envelope: free, target: 't' }]),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['appended', 'appended', 'appended'],
    );
    await first.close();

    const outbox = createSqliteOutbox({ ...limits, file }, { logger: silentLogger, now: () => 20 });
    await outbox.open();
    // Within the limit, rows go in append order: a1 (head of a) and a2 (its run), not b1 first.
    const limited = await outbox.claim({ limit: 2, owner: 'r0', leaseMs: 1 }, 20);
    assert.deepEqual(
      limited.map((r) => r.envelope.id),
      [a1.id, a2.id],
    );
    // Once that lease ran out: key a goes as a run (a1 then a2), in seq order with the rest.
    const claimed = await outbox.claim({ limit: 10, owner: 'r1', leaseMs: 1000 }, 25);
    assert.deepEqual(
      claimed.map((r) => r.envelope.id),
      [a1.id, a2.id, b1.id, free.id],
    );
    assert.equal(Buffer.from(claimed[0]!.envelope.payload).toString(), Buffer.from(a1.payload).toString());
    // Leased rows are not claimed again.
    assert.deepEqual(await outbox.claim({ limit: 10, owner: 'r2', leaseMs: 1000 }, 26), []);
    await outbox.settle(
      [
        {
          seq: claimed[0]!.seq,
          kind: 'confirmed',
          attempts: 1,
          receipt: { messageId: a1.id, broker: 'x', target: 't' },
        },
      ],
      'r1',
      27,
    );
    const status = await outbox.status('acme', a1.id);
    assert.equal(status?.state, 'confirmed');
    assert.equal(status?.attempts, 1);
    assert.equal(await outbox.status('other-tenant', a1.id), undefined);
    await outbox.close();
  });

  it('cuts a key run at the first row waiting out a backoff: later rows of the key wait with it', async () => {
    const outbox = createSqliteOutbox(
      { ...limits, file: path.join(dir, 'run', 'outbox.db') },
      { logger: silentLogger },
    );
    await outbox.open();
    const [k1, k2, k3, k4] = [envelope('k'), envelope('k'), envelope('k'), envelope('k')];
    await outbox.append([k1, k2, k3, k4].map((e) => ({ envelope: e, target: 't' })));
    const run = await outbox.claim({ limit: 10, owner: 'r', leaseMs: 5 }, 20);
    assert.deepEqual(
      run.map((r) => r.envelope.id),
      [k1.id, k2.id, k3.id, k4.id],
    );
    const error = { code: 'ADP_ERR_TIMEOUT', message: 'no confirm' };
    await outbox.settle(
      [
        {
          seq: run[0]!.seq,
          kind: 'confirmed',
          attempts: 1,
          receipt: { messageId: k1.id, broker: 'x', target: 't' },
        },
        { seq: run[1]!.seq, kind: 'retry', attempts: 1, nextAttemptAt: 100, error },
        { seq: run[2]!.seq, kind: 'retry', attempts: 1, nextAttemptAt: 30, error },
        { seq: run[3]!.seq, kind: 'retry', attempts: 1, nextAttemptAt: 300, error },
      ],
      'r',
      21,
    );
    // k2 (the head) waits until 100: nothing of key k goes, although k3 is due at 30.
    assert.deepEqual(await outbox.claim({ limit: 10, owner: 'r', leaseMs: 5 }, 50), []);
    // At 100: k2 and k3 go together; k4 (due at 300) and everything after it wait.
    assert.deepEqual(
      (await outbox.claim({ limit: 10, owner: 'r', leaseMs: 5 }, 100)).map((r) => r.envelope.id),
      [k2.id, k3.id],
    );
    await outbox.close();
  });

  it('drains a backlog of keyed and keyless rows in append order, a claim at a time', async () => {
    const file = path.join(dir, 'mixed', 'outbox.db');
    const outbox = createSqliteOutbox({ ...limits, file }, { logger: silentLogger, now: () => 10 });
    await outbox.open();
    // Like the fault load: four keys and keyless, round robin.
    const keys = ['k0', 'k1', 'k2', 'k3', undefined];
    const appended = Array.from({ length: 100 }, (_, i) => envelope(keys[i % keys.length]));
    assert.equal((await outbox.append(appended.map((e) => ({ envelope: e, target: 't' })))).kind, 'appended');
    const claimed: string[] = [];
    for (let round = 0; round < 10; round++) {
      const rows = await outbox.claim({ limit: 10, owner: `r${round}`, leaseMs: 60_000 }, 10);
      // Each claim is the next 10 rows of the backlog: no keyless rows ahead of keyed ones.
      assert.deepEqual(
        rows.map((r) => r.envelope.id),
        appended.slice(round * 10, round * 10 + 10).map((e) => e.id),
        `claim ${round}`,
      );
      claimed.push(...rows.map((r) => r.envelope.id));
      await outbox.settle(confirmAll(rows), `r${round}`, 10);
    }
    assert.equal(claimed.length, 100);
    await outbox.close();
  });

  it('names the keys with queued rows for a target: pending, committed and leased ones, until settled', async () => {
    const file = path.join(dir, 'queued-keys', 'outbox.db');
    const outbox = createSqliteOutbox({ ...limits, file }, { logger: silentLogger, now: () => 10 });
    await outbox.open();
    assert.deepEqual([...(await outbox.queuedKeys('t', ['a', 'b']))], [], 'an empty outbox');
    const a1 = envelope('a');
    // Asked while the append waits for its group commit: already queued for this question.
    const appending = outbox.append([
      { envelope: a1, target: 't' },
      { envelope: envelope('c'), target: 'other' },
    ]);
    assert.deepEqual([...(await outbox.queuedKeys('t', ['a', 'b', 'c']))], ['a']);
    assert.equal((await appending).kind, 'appended');
    assert.deepEqual([...(await outbox.queuedKeys('t', ['a', 'b', 'c', 'a']))], ['a']);
    assert.deepEqual([...(await outbox.queuedKeys('other', ['a', 'c']))], ['c']);
    // Held by a relay: still queued. Confirmed: no longer.
    const [row] = await outbox.claim({ limit: 1, owner: 'r', leaseMs: 1000 }, 10);
    assert.equal(row!.envelope.id, a1.id);
    assert.deepEqual([...(await outbox.queuedKeys('t', ['a']))], ['a']);
    await outbox.settle(
      [
        {
          seq: row!.seq,
          kind: 'confirmed',
          attempts: 1,
          receipt: { messageId: a1.id, broker: 'x', target: 't' },
        },
      ],
      'r',
      11,
    );
    assert.deepEqual([...(await outbox.queuedKeys('t', ['a']))], []);
    await outbox.close();
  });

  it("releases a crashed process's leases when it opens, so those rows go out at once", async () => {
    const file = path.join(dir, 'crash', 'outbox.db');
    const crashed = createSqliteOutbox({ ...limits, file }, { logger: silentLogger });
    await crashed.open();
    const head = envelope('k');
    const next = envelope('k');
    await crashed.append([
      { envelope: head, target: 't' },
      { envelope: next, target: 't' },
    ]);
    // Claimed with a long lease, then the process "dies" without settling.
    assert.deepEqual(
      (await crashed.claim({ limit: 10, owner: 'dead', leaseMs: 600_000 }, Date.now())).map(
        (r) => r.envelope.id,
      ),
      [head.id, next.id],
    );
    await crashed.close();

    const restarted = createSqliteOutbox({ ...limits, file }, { logger: silentLogger });
    await restarted.open();
    const claimed = await restarted.claim({ limit: 10, owner: 'new', leaseMs: 1000 }, Date.now());
    assert.deepEqual(
      claimed.map((r) => r.envelope.id),
      [head.id, next.id],
      'the run of key k is claimable again at once, not after the dead lease',
    );
    await restarted.close();
  });

  it('answers full (nothing kept) beyond maxMessages', async () => {
    const outbox = createSqliteOutbox(
      { ...limits, maxMessages: 2, file: path.join(dir, 'full', 'outbox.db') },
      { logger: silentLogger },
    );
    await outbox.open();
    assert.equal((await outbox.append([{ envelope: envelope(), target: 't' }])).kind, 'appended');
    const full = await outbox.append([
      { envelope: envelope(), target: 't' },
      { envelope: envelope(), target: 't' },
    ]);
    assert.equal(full.kind, 'full');
    assert.equal((await outbox.counts()).queued, 1);
    await outbox.close();
  });

  it('answers unavailable when the store cannot be opened or written', async () => {
    const blocker = path.join(dir, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const outbox = createSqliteOutbox(
      { ...limits, file: path.join(blocker, 'outbox.db') },
      { logger: silentLogger },
    );
    await assert.rejects(outbox.open());
    const outcome = await outbox.append([{ envelope: envelope(), target: 't' }]);
    assert.equal(outcome.kind, 'unavailable');
    await outbox.close();
  });

  it('keeps dead letters for listing and replay, per tenant and topic', async () => {
    const outbox = createSqliteOutbox(
      { ...limits, file: path.join(dir, 'dead', 'outbox.db') },
      { logger: silentLogger },
    );
    await outbox.open();
    const mine = envelope(undefined, 'acme');
    const theirs = envelope(undefined, 'globex');
    await outbox.append([
      { envelope: mine, target: 't' },
      { envelope: theirs, target: 't' },
    ]);
    const rows = await outbox.claim({ limit: 10, owner: 'r', leaseMs: 1000 }, Date.now());
    await outbox.settle(
      rows.map((r) => ({
        seq: r.seq,
        kind: 'dead' as const,
        attempts: 1,
        error: { code: 'ADP_ERR_REJECTED', message: 'no' },
      })),
      'r',
      Date.now(),
    );
    const page = await outbox.listDead({ tenant: 'acme' }, 10);
    assert.deepEqual(
      page.items.map((i) => i.id),
      [mine.id],
    );
    assert.equal(page.items[0]!.lastError?.code, 'ADP_ERR_REJECTED');
    assert.equal(await outbox.replayDead({ tenant: 'acme', topic: 'orders' }, Date.now()), 1);
    const again = await outbox.claim({ limit: 10, owner: 'r', leaseMs: 1000 }, Date.now() + 1);
    assert.deepEqual(
      again.map((r) => r.envelope.id),
      [mine.id],
    );
    assert.equal(again[0]!.attempts, 0);
    await outbox.close();
  });

  it('replays a dead letter with a fresh age and attempts; deletes one and purges by tenant and topic', async () => {
    await checkDeadLetterLifecycle(async (now) => {
      const outbox = createSqliteOutbox(
        { ...limits, file: path.join(dir, 'lifecycle', 'outbox.db') },
        { logger: silentLogger, now },
      );
      await outbox.open();
      return outbox;
    });
  });
});
