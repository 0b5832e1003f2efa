/** The relay and delayed messages: it sleeps until the next due time, not a whole poll interval. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AdapterError, silentLogger, type MessageEnvelope, type PublishResult } from '../core/index.js';
import { createSqliteOutbox } from './outbox/sqlite-outbox.js';
import { createRelay, type RelayConfig } from './relay.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-relay-delay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const limits = { maxMessages: 1000, maxBytes: 1 << 20, statusRetentionMs: 60_000, deadRetentionMs: 60_000 };
const config: RelayConfig = {
  batchSize: 50,
  // Long on purpose: a delayed message must not wait for the next poll.
  pollIntervalMs: 10_000,
  leaseMs: 5_000,
  publishTimeoutMs: 1_000,
  retry: { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
  maxAgeMs: 60_000,
  targetBackoff: { baseDelayMs: 0, maxDelayMs: 0 },
};

function envelope(id: string, deliverAt: number, key?: string): MessageEnvelope {
  return {
    id,
    tenant: 'acme',
    topic: 'orders',
    destination: 'orders',
    ...(key === undefined ? {} : { key }),
    payload: Buffer.from(id),
    contentType: 'text/plain',
    headers: {},
    deliverAt,
    createdAt: Date.now(),
  };
}

async function openOutbox(name: string, now?: () => number) {
  const outbox = createSqliteOutbox(
    { ...limits, file: path.join(dir, name, 'outbox.db') },
    { logger: silentLogger, ...(now ? { now } : {}) },
  );
  await outbox.open();
  return outbox;
}

describe('relay: delayed messages', () => {
  it('wakes at each due time (not at the poll interval) and never publishes early', async () => {
    const outbox = await openOutbox('wake');
    const start = Date.now();
    const dueTimes = [start + 300, start + 700, start + 1_200];
    const published = new Map<string, number>();
    const relay = createRelay(config, {
      outbox,
      logger: silentLogger,
      async publish(target, envelopes): Promise<PublishResult[]> {
        for (const e of envelopes) published.set(e.id, Date.now());
        return envelopes.map((e) => ({ ok: true, receipt: { messageId: e.id, broker: 'fake', target } }));
      },
    });
    relay.start();
    // Appended after the relay went to sleep for its (long) poll interval; wake() as delivery does.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await outbox.append(dueTimes.map((at, i) => ({ envelope: envelope(`w${i}`, at), target: 't' })));
    relay.wake();
    const deadline = Date.now() + 3_000;
    while (published.size < dueTimes.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await relay.stop();
    dueTimes.forEach((at, i) => {
      const sent = published.get(`w${i}`);
      assert.ok(sent !== undefined, `w${i} was not published`);
      assert.ok(sent >= at, `w${i} went ${at - sent} ms early`);
      assert.ok(sent - at < 150, `w${i} went ${sent - at} ms late`);
    });
    await outbox.close();
  });

  it("counts a delayed message's age from its deliverAt, not from when it was accepted", async () => {
    const now = { at: 1_000_000 };
    const outbox = await openOutbox('age', () => now.at);
    // Accepted at 1_000_000, due 2 × maxAgeMs later: a first failure must not make it dead.
    const due = now.at + 2 * config.maxAgeMs;
    await outbox.append([{ envelope: envelope('a1', due), target: 't' }]);
    now.at = due;
    const relay = createRelay(config, {
      outbox,
      logger: silentLogger,
      now: () => now.at,
      async publish(): Promise<PublishResult[]> {
        return [{ ok: false, error: new AdapterError('ADP_ERR_TIMEOUT', 'no confirm', { ambiguous: true }) }];
      },
    });
    assert.equal(await relay.cycle(), 1);
    const status = await outbox.status('acme', 'a1', now.at);
    assert.equal(status?.state, 'queued', 'still queued for another try, not dead');
    await relay.stop();
    await outbox.close();
  });
});
