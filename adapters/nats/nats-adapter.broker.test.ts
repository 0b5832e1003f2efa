/**
 * The NATS adapter against the machine's real nats-server (the address deploy/local/brokers.ts
 * checks). Cases the shared contract suite does not cover: a subject no stream binds, provisioning,
 * JetStream deduplication by Nats-Msg-Id, headers NATS would change, and an unreachable server.
 * Nothing here stops the server. Every subject is unique to the run; created streams are deleted.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { ADDRESSES, ensureBrokers } from '../../deploy/local/brokers.js';
import { publishSettled, silentLogger, type MessageEnvelope } from '../core/index.js';
import { natsConfigSchema } from './config.js';
import { createNatsAdapter, type NatsAdapter } from './nats-adapter.js';
import { createNatsReader } from './nats-reader.js';
import { streamNameFor } from './subject.js';

const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
const PREFIX = `pgtest.${runId}.`;
const STREAM_PREFIX = 'PGTEST_';

function adapterFor(overrides: Record<string, unknown> = {}): NatsAdapter {
  const config = natsConfigSchema.parse({
    kind: 'nats',
    servers: ADDRESSES.nats,
    subjectPrefix: PREFIX,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    ...overrides,
  });
  return createNatsAdapter('nats-broker-test', config, { logger: silentLogger });
}

function envelope(destination: string, overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  return {
    id: randomUUID(),
    tenant: 'broker-test',
    topic: destination,
    destination,
    payload: new TextEncoder().encode('{"ok":true}'),
    contentType: 'application/json',
    headers: {},
    createdAt: Date.now(),
    ...overrides,
  };
}

const signal = () => AbortSignal.timeout(15_000);

describe('nats adapter against the real server', { concurrency: false }, () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const streams = new Set<string>();

  before(async () => {
    await ensureBrokers(['nats']);
    nc = await natsConnect({ servers: ADDRESSES.nats, reconnect: false });
    jsm = await jetstreamManager(nc);
  });

  after(async () => {
    for (const name of streams) await jsm.streams.delete(name).catch(() => {});
    await nc?.close();
  });

  it('answers a subject no stream binds with ADP_ERR_NO_DESTINATION naming it, and creates nothing', async () => {
    const adapter = adapterFor();
    await adapter.connect(signal());
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const [result] = await publishSettled(adapter, [envelope('nowhere')], { signal: signal() });
        assert.ok(result && !result.ok);
        assert.equal(result.error.code, 'ADP_ERR_NO_DESTINATION');
        assert.equal(result.error.retriable, false);
        assert.equal(result.error.ambiguous, false);
        assert.match(result.error.message, new RegExp(`${PREFIX}nowhere`.replaceAll('.', '\\.')));
      }
      await assert.rejects(jsm.streams.find(`${PREFIX}nowhere`));
    } finally {
      await adapter.close();
    }
  });

  it('with provision on, creates the missing stream once (file, limits) and confirms', async () => {
    const adapter = adapterFor({
      provision: {
        enabled: true,
        streamPrefix: STREAM_PREFIX,
        maxAgeMs: 3_600_000,
        duplicateWindowMs: 60_000,
      },
    });
    await adapter.connect(signal());
    const subject = `${PREFIX}provisioned`;
    const name = streamNameFor(subject, STREAM_PREFIX);
    streams.add(name);
    try {
      // Concurrent publishes race to create it: one stream, every message confirmed, in order.
      const batch = Array.from({ length: 10 }, () => envelope('provisioned'));
      const results = await adapter.publish(batch, { signal: signal() });
      results.forEach((result, i) => {
        assert.ok(result.ok, result.ok ? '' : `${result.error.code} ${result.error.message}`);
        assert.equal(result.receipt.messageId, batch[i]!.id);
        assert.equal(result.receipt.broker, 'nats');
        assert.match(result.receipt.brokerMessageId ?? '', new RegExp(`^${name}:\\d+$`));
      });
      assert.deepEqual(
        results.map((r) => (r.ok ? Number(r.receipt.offset) : -1)),
        Array.from({ length: 10 }, (_, i) => i + 1),
      );
      const info = await jsm.streams.info(name);
      assert.deepEqual(info.config.subjects, [subject]);
      assert.equal(info.config.storage, StorageType.File);
      assert.equal(info.config.num_replicas, 1);
      assert.equal(info.config.max_age, 3_600_000 * 1e6);
      assert.equal(info.config.duplicate_window, 60_000 * 1e6);
      assert.equal(info.state.messages, 10);
      assert.equal(adapter.stats().streamsCreated, 1);
    } finally {
      await adapter.close();
    }
  });

  it('stores a resent id once (Nats-Msg-Id) and confirms the resend with the first sequence', async () => {
    const subject = `${PREFIX}dedup`;
    const name = `PGTEST_DEDUP_${runId}`;
    streams.add(name);
    await jsm.streams.add({ name, subjects: [subject], storage: StorageType.File });
    const adapter = adapterFor();
    await adapter.connect(signal());
    const reader = await createNatsReader(
      natsConfigSchema.parse({ kind: 'nats', servers: ADDRESSES.nats, subjectPrefix: PREFIX }),
      { destination: 'dedup' },
      { logger: silentLogger },
    );
    try {
      const message = envelope('dedup', { key: 'k1', headers: { 'ce-type': 'x' } });
      const [first] = await adapter.publish([message], { signal: signal() });
      const [again] = await adapter.publish([message], { signal: signal() });
      assert.ok(first?.ok && again?.ok);
      assert.equal(again.receipt.offset, first.receipt.offset);
      assert.equal(adapter.stats().duplicates, 1);
      const other = envelope('dedup');
      assert.ok((await adapter.publish([other], { signal: signal() }))[0]?.ok);
      await reader.waitForCount(2, 10_000);
      await reader.waitForIdle(500, 3_000);
      assert.deepEqual(
        reader.received().map((m) => m.id),
        [message.id, other.id],
      );
      const [stored] = reader.received();
      assert.equal(stored?.key, 'k1');
      assert.deepEqual(stored?.headers, { 'ce-type': 'x' });
      assert.deepEqual(Buffer.from(stored!.payload), Buffer.from(message.payload));
    } finally {
      await reader.close();
      await adapter.close();
    }
  });

  it('refuses a header value NATS would trim, before sending', async () => {
    const adapter = adapterFor();
    await adapter.connect(signal());
    try {
      const [result] = await adapter.publish([envelope('any', { headers: { note: ' padded ' } })], {
        signal: signal(),
      });
      assert.ok(result && !result.ok);
      assert.equal(result.error.code, 'ADP_ERR_REJECTED');
    } finally {
      await adapter.close();
    }
  });

  it('fails fast while the server cannot be reached, and closes cleanly', async () => {
    const adapter = adapterFor({ servers: 'nats://127.0.0.1:1', connectTimeoutMs: 500 });
    const connecting = adapter.connect(AbortSignal.timeout(1_500));
    await assert.rejects(
      connecting,
      (error: Error & { code?: string }) => error.code === 'ADP_ERR_UNAVAILABLE',
    );
    const started = Date.now();
    const [result] = await publishSettled(adapter, [envelope('any')], { signal: signal() });
    assert.ok(result && !result.ok);
    assert.equal(result.error.code, 'ADP_ERR_UNAVAILABLE');
    assert.equal(result.error.retriable, true);
    assert.ok(Date.now() - started < 500);
    const health = await adapter.health();
    assert.equal(health.ok, false);
    assert.match(health.detail ?? '', /127\.0\.0\.1:1/);
    assert.notEqual(adapter.stats().state, 'up');
    await adapter.close();
    assert.equal(adapter.stats().state, 'closed');
  });
});
