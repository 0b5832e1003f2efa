import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AdapterError, silentLogger, type MessageEnvelope, type PublishResult } from '../core/index.js';
import { createSqliteOutbox } from './outbox/sqlite-outbox.js';
import { createRelay, type RelayConfig } from './relay.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-relay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const limits = { maxMessages: 1000, maxBytes: 1 << 20, statusRetentionMs: 60_000, deadRetentionMs: 60_000 };
const config: RelayConfig = {
  batchSize: 50,
  pollIntervalMs: 10,
  leaseMs: 5_000,
  publishTimeoutMs: 1_000,
  retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
  maxAgeMs: 60_000,
  targetBackoff: { baseDelayMs: 0, maxDelayMs: 0 },
};

function envelope(id: string, key?: string): MessageEnvelope {
  return {
    id,
    tenant: 'acme',
    topic: 'orders',
    destination: 'orders',
    ...(key === undefined ? {} : { key }),
    payload: Buffer.from(id),
    contentType: 'text/plain',
    headers: {},
    createdAt: Date.now(),
  };
}

async function openOutbox(name: string) {
  const outbox = createSqliteOutbox(
    { ...limits, file: path.join(dir, name, 'outbox.db') },
    { logger: silentLogger },
  );
  await outbox.open();
  return outbox;
}

describe('relay', () => {
  it('leaves targets named by skipTargets (an open breaker) alone, without spending attempts', async () => {
    const outbox = await openOutbox('skip');
    await outbox.append([
      { envelope: envelope('s1'), target: 'cut-off' },
      { envelope: envelope('s2'), target: 'fine' },
    ]);
    const skipped = new Set(['cut-off']);
    const calls: string[] = [];
    const relay = createRelay(config, {
      outbox,
      logger: silentLogger,
      skipTargets: () => [...skipped],
      async publish(target, envelopes): Promise<PublishResult[]> {
        calls.push(target);
        return envelopes.map((e) => ({ ok: true, receipt: { messageId: e.id, broker: 'fake', target } }));
      },
    });
    for (let i = 0; i < 3; i++) await relay.cycle();
    assert.deepEqual(calls, ['fine']);
    assert.equal((await outbox.status('acme', 's1'))?.state, 'queued');
    assert.equal((await outbox.status('acme', 's1'))?.attempts, 0);
    skipped.clear();
    await relay.cycle();
    assert.deepEqual(calls, ['fine', 'cut-off']);
    assert.equal((await outbox.status('acme', 's1'))?.state, 'confirmed');
    await outbox.close();
  });

  it('publishes each key in order, one in flight per key, retrying failures before later messages', async () => {
    const outbox = await openOutbox('order');
    const ids = ['a1', 'b1', 'a2', 'a3', 'b2'];
    await outbox.append(ids.map((id) => ({ envelope: envelope(id, id[0]), target: 't' })));
    const published: string[] = [];
    let inFlight = new Set<string>();
    let failA2Once = true;
    const relay = createRelay(config, {
      outbox,
      logger: silentLogger,
      async publish(_target, envelopes): Promise<PublishResult[]> {
        for (const e of envelopes) {
          assert.ok(!inFlight.has(e.key!), `two messages of key ${e.key} in flight`);
        }
        inFlight = new Set(envelopes.map((e) => e.key!));
        await new Promise((resolve) => setTimeout(resolve, 2));
        inFlight = new Set();
        // Like the adapters: a key's messages in one call go in order, and a failure holds back the
        // key's later messages in that call (they fail too rather than overtake it).
        const failedKeys = new Set<string>();
        return envelopes.map((e): PublishResult => {
          if (failedKeys.has(e.key!)) {
            return { ok: false, error: new AdapterError('ADP_ERR_UNAVAILABLE', 'held back') };
          }
          if (e.id === 'a2' && failA2Once) {
            failA2Once = false;
            failedKeys.add(e.key!);
            return { ok: false, error: new AdapterError('ADP_ERR_TIMEOUT', 'no confirm') };
          }
          published.push(e.id);
          return { ok: true, receipt: { messageId: e.id, broker: 'fake', target: 't' } };
        });
      },
    });
    for (let i = 0; i < 10; i++) await relay.cycle();
    assert.deepEqual(
      published.filter((id) => id.startsWith('a')),
      ['a1', 'a2', 'a3'],
    );
    assert.deepEqual(
      published.filter((id) => id.startsWith('b')),
      ['b1', 'b2'],
    );
    const a2 = await outbox.status('acme', 'a2');
    assert.equal(a2?.state, 'confirmed');
    assert.equal(a2?.attempts, 2);
    await relay.stop();
    await outbox.close();
  });

  it('makes a message dead at once on a non-retriable error, and after maxAttempts otherwise', async () => {
    const outbox = await openOutbox('dead');
    await outbox.append([
      { envelope: envelope('refused'), target: 't' },
      { envelope: envelope('flaky'), target: 't' },
      { envelope: envelope('ok-0'), target: 't' },
    ]);
    const dead: string[] = [];
    const relay = createRelay(config, {
      outbox,
      logger: silentLogger,
      observer: { dead: () => dead.push('x') },
      // The target works (other messages get through); these two messages fail on their own.
      async publish(_target, envelopes): Promise<PublishResult[]> {
        return envelopes.map((e) =>
          e.id.startsWith('ok')
            ? { ok: true, receipt: { messageId: e.id, broker: 'fake', target: 't' } }
            : {
                ok: false,
                error:
                  e.id === 'refused'
                    ? new AdapterError('ADP_ERR_REJECTED', 'nack')
                    : new AdapterError('ADP_ERR_BACKPRESSURE', 'slow down'),
              },
        );
      },
    });
    await relay.cycle();
    assert.equal((await outbox.status('acme', 'refused'))?.state, 'dead');
    assert.equal((await outbox.status('acme', 'flaky'))?.state, 'queued');
    for (let i = 1; i <= 2; i++) {
      await outbox.append([{ envelope: envelope(`ok-${i}`), target: 't' }]);
      await relay.cycle();
    }
    const flaky = await outbox.status('acme', 'flaky');
    assert.equal(flaky?.state, 'dead');
    assert.equal(flaky?.attempts, 3);
    assert.equal(flaky?.lastError?.code, 'ADP_ERR_BACKPRESSURE');
    assert.equal(dead.length, 2);
    await relay.stop();
    await outbox.close();
  });

  it('does not count tries against messages while their target is down: nothing dies, all drain when it returns', async () => {
    const outbox = await openOutbox('outage');
    await outbox.append([
      { envelope: envelope('k1', 'a'), target: 't' },
      { envelope: envelope('k2', 'a'), target: 't' },
      { envelope: envelope('free'), target: 't' },
    ]);
    let up = false;
    const relay = createRelay(
      { ...config, retry: { maxAttempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000 } },
      {
        outbox,
        logger: silentLogger,
        async publish(_t, envelopes): Promise<PublishResult[]> {
          return envelopes.map((e) =>
            up
              ? { ok: true, receipt: { messageId: e.id, broker: 'fake', target: 't' } }
              : { ok: false, error: new AdapterError('ADP_ERR_UNAVAILABLE', 'connection refused') },
          );
        },
      },
    );
    for (let i = 0; i < 10; i++) await relay.cycle(); // far more tries than maxAttempts
    const during = await outbox.status('acme', 'k1');
    assert.equal(during?.state, 'queued');
    assert.equal(during?.attempts, 0);
    assert.equal(during?.lastError?.code, 'ADP_ERR_UNAVAILABLE');
    up = true;
    // No per-message backoff (60 s here) holds them back once the target answers.
    await relay.cycle();
    await relay.cycle();
    for (const id of ['k1', 'k2', 'free'])
      assert.equal((await outbox.status('acme', id))?.state, 'confirmed', id);
    await relay.stop();
    await outbox.close();
  });

  it('drains a backlog of keyed messages back to back, without waiting a poll interval per row', async () => {
    const outbox = await openOutbox('backlog');
    const rows = Array.from({ length: 200 }, (_, i) => ({
      envelope: envelope(`b${i}`, `k${i % 4}`),
      target: 't',
    }));
    await outbox.append(rows);
    const relay = createRelay(
      { ...config, pollIntervalMs: 60_000 },
      {
        outbox,
        logger: silentLogger,
        async publish(_t, envelopes): Promise<PublishResult[]> {
          return envelopes.map((e) => ({
            ok: true,
            receipt: { messageId: e.id, broker: 'fake', target: 't' },
          }));
        },
      },
    );
    relay.start();
    const started = Date.now();
    // 50 rows per key, claimed as runs of up to batchSize (50) rows: a few cycles. With a 60 s poll
    // interval between cycles this would take minutes; back to back it takes well under the test's 10 s.
    while ((await outbox.status('acme', 'b199'))?.state !== 'confirmed' && Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const id of ['b0', 'b100', 'b199'])
      assert.equal((await outbox.status('acme', id))?.state, 'confirmed', id);
    await relay.stop();
    await outbox.close();
  });

  it('drains one hot key in runs of batchSize rows, in order, not one row per cycle', async () => {
    const outbox = await openOutbox('hot-key');
    const ids = Array.from({ length: 200 }, (_, i) => `h${i}`);
    await outbox.append(ids.map((id) => ({ envelope: envelope(id, 'hot'), target: 't' })));
    const calls: string[][] = [];
    const relay = createRelay(config, {
      outbox,
      logger: silentLogger,
      async publish(_t, envelopes): Promise<PublishResult[]> {
        calls.push(envelopes.map((e) => e.id));
        return envelopes.map((e) => ({
          ok: true,
          receipt: { messageId: e.id, broker: 'fake', target: 't' },
        }));
      },
    });
    while ((await relay.cycle()) > 0);
    assert.deepEqual(
      calls.map((c) => c.length),
      [50, 50, 50, 50],
    );
    assert.deepEqual(calls.flat(), ids);
    await relay.stop();
    await outbox.close();
  });

  it('backs off a target that is down instead of hammering it', async () => {
    const outbox = await openOutbox('down');
    await outbox.append([{ envelope: envelope('m1'), target: 't' }]);
    let calls = 0;
    const relay = createRelay(
      {
        ...config,
        retry: { maxAttempts: 100, baseDelayMs: 0, maxDelayMs: 0 },
        targetBackoff: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
      },
      {
        outbox,
        logger: silentLogger,
        random: () => 0.99,
        async publish(_t, envelopes): Promise<PublishResult[]> {
          calls++;
          return envelopes.map(() => ({ ok: false, error: new AdapterError('ADP_ERR_UNAVAILABLE', 'down') }));
        },
      },
    );
    for (let i = 0; i < 5; i++) await relay.cycle();
    assert.equal(calls, 1);
    assert.equal((await outbox.status('acme', 'm1'))?.state, 'queued');
    await relay.stop();
    await outbox.close();
  });
});
