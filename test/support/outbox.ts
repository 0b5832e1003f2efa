/** Outbox test helpers shared by the SQLite and PostgreSQL outbox suites. */
import assert from 'node:assert/strict';
import {
  AdapterError,
  silentLogger,
  type MessageEnvelope,
  type PublishResult,
} from '../../adapters/core/index.js';
import type { ClaimedRow, Outbox, Settlement } from '../../adapters/reliability/outbox/outbox.js';
import { createRelay } from '../../adapters/reliability/relay.js';

/** Settlements confirming every claimed row, as a relay sends them once the broker confirmed. */
export function confirmAll(rows: readonly ClaimedRow[], broker = 'x'): Settlement[] {
  return rows.map((row) => ({
    seq: row.seq,
    kind: 'confirmed',
    attempts: 1,
    receipt: { messageId: row.envelope.id, broker, target: row.target },
  }));
}

/**
 * The dead-letter life cycle both stores must give, on an empty store opened by `open` with the
 * clock it is given: a message dead by maxAge, replayed, has a fresh age and fresh attempts (the
 * next relay pass within that age leaves it queued; past it, it is dead again), keeps its
 * createdAt; deleting one dead letter and purging by tenant and topic count what they delete and
 * leave every other row alone.
 */
export async function checkDeadLetterLifecycle(open: (now: () => number) => Promise<Outbox>): Promise<void> {
  let clock = 1_000_000;
  const outbox = await open(() => clock);
  try {
    const maxAgeMs = 10_000;
    let published = 0;
    const relay = createRelay(
      {
        batchSize: 50,
        pollIntervalMs: 10,
        leaseMs: 5_000,
        publishTimeoutMs: 1_000,
        retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
        maxAgeMs,
        targetBackoff: { baseDelayMs: 0, maxDelayMs: 0 },
      },
      {
        outbox,
        logger: silentLogger,
        now: () => clock,
        // The target is down: every try fails retriably, so only the age can make a message dead.
        async publish(_target, envelopes): Promise<PublishResult[]> {
          published += envelopes.length;
          return envelopes.map(() => ({
            ok: false,
            error: new AdapterError('ADP_ERR_UNAVAILABLE', 'the broker is down'),
          }));
        },
      },
    );
    const aged = deadLetterEnvelope('aged-1', 'aged', 'orders', 990_000);
    assert.equal((await outbox.append([{ envelope: aged, target: 'down' }])).kind, 'appended');
    await relay.cycle();
    assert.equal((await outbox.status('aged', 'aged-1'))?.state, 'queued', 'young: kept queued');
    clock += maxAgeMs;
    await relay.cycle();
    const dead = await outbox.getDead('aged-1', 'aged');
    assert.equal(dead?.state, 'dead', 'past maxAge: dead');
    assert.equal(dead.attempts, 1);
    assert.equal(dead.createdAt, 990_000);
    assert.equal(dead.queuedAt, 1_000_000);

    clock += 60_000; // long past the first age: only a fresh age keeps it alive
    const replayedAt = clock;
    assert.equal(await outbox.replayDead({ id: 'aged-1' }, replayedAt), 1);
    let status = await outbox.status('aged', 'aged-1');
    assert.equal(status?.state, 'queued');
    assert.equal(status.attempts, 0, 'a replay resets the attempts');
    assert.equal(status.createdAt, 990_000, 'a replay keeps createdAt');
    clock += 5;
    const tries = published;
    await relay.cycle();
    assert.equal(published, tries + 1, 'the relay tried the replayed message');
    status = await outbox.status('aged', 'aged-1');
    assert.equal(status?.state, 'queued', 'within the age counted from the replay: not dead again');
    clock = replayedAt + maxAgeMs - 1;
    await relay.cycle();
    assert.equal((await outbox.status('aged', 'aged-1'))?.state, 'queued');
    clock = replayedAt + maxAgeMs;
    await relay.cycle();
    const again = await outbox.getDead('aged-1');
    assert.equal(again?.state, 'dead', 'past maxAge from the replay: dead again');
    assert.equal(again.queuedAt, replayedAt);
    assert.equal(again.createdAt, 990_000);
    assert.equal(Buffer.from(again.payload).toString(), 'aged-1');

    // Deletes: dead rows of several tenants and topics, and a queued row among them.
    const deadOnes = [
      deadLetterEnvelope('da1', 'acme', 'orders'),
      deadLetterEnvelope('da2', 'acme', 'orders'),
      deadLetterEnvelope('da3', 'acme', 'payments'),
      deadLetterEnvelope('dg1', 'globex', 'orders'),
    ];
    await outbox.append(deadOnes.map((envelope, i) => ({ envelope, target: i === 1 ? 'other' : 't' })));
    const claimed = await outbox.claim(
      { limit: 10, owner: 'x', leaseMs: 1_000, excludeTargets: ['down'] },
      clock,
    );
    assert.equal(claimed.length, 4);
    await outbox.settle(
      claimed.map((row) => ({
        seq: row.seq,
        kind: 'dead' as const,
        attempts: 1,
        error: { code: 'ADP_ERR_REJECTED', message: 'refused' },
      })),
      'x',
      clock,
    );
    const queued = deadLetterEnvelope('qa1', 'acme', 'orders');
    await outbox.append([{ envelope: queued, target: 't' }]);
    assert.equal((await outbox.counts()).dead, 5);

    assert.deepEqual(await outbox.deleteDead({ id: 'da3', tenant: 'globex' }), { deleted: 0, byTarget: {} });
    assert.deepEqual(await outbox.deleteDead({ id: 'da3' }), { deleted: 1, byTarget: { t: 1 } });
    assert.equal(await outbox.getDead('da3'), undefined);
    assert.equal(await outbox.status('acme', 'da3'), undefined, 'gone, not just hidden');
    assert.deepEqual(await outbox.deleteDead({ id: 'da3' }), { deleted: 0, byTarget: {} });
    // A queued row is not a dead letter: deleting its id does nothing.
    assert.deepEqual(await outbox.deleteDead({ id: 'qa1' }), { deleted: 0, byTarget: {} });

    assert.deepEqual(await outbox.deleteDead({ tenant: 'acme', topic: 'orders' }), {
      deleted: 2,
      byTarget: { t: 1, other: 1 },
    });
    assert.deepEqual(
      (await outbox.listDead({}, 10)).items.map((i) => i.id).sort(),
      ['aged-1', 'dg1'],
      'other tenants and topics kept',
    );
    assert.equal((await outbox.status('acme', 'qa1'))?.state, 'queued', 'queued rows of the topic kept');
    assert.deepEqual(await outbox.deleteDead({ tenant: 'globex', topic: 'payments' }), {
      deleted: 0,
      byTarget: {},
    });
    assert.deepEqual(await outbox.deleteDead({}), { deleted: 2, byTarget: { down: 1, t: 1 } });
    const counts = await outbox.counts();
    assert.equal(counts.dead, 0);
    assert.equal(counts.queued, 1);
  } finally {
    await outbox.close();
  }
}

function deadLetterEnvelope(id: string, tenant: string, topic: string, createdAt = 1): MessageEnvelope {
  return {
    id,
    tenant,
    topic,
    destination: topic,
    payload: Buffer.from(id),
    contentType: 'text/plain',
    headers: { h: 'v' },
    createdAt,
  };
}
