/**
 * The Kafka adapter against the real local Kafka (started by test/run.mjs, or ensureBrokers here):
 * coalescing of concurrent publishes, receipts that match where Kafka stored each message, per-key
 * order under coalescing, and isolation of a bad topic inside a coalesced flush.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import type { MessageEnvelope, PublishResult } from '../core/index.js';
import { ensureBrokers } from '../../deploy/local/brokers.js';
import {
  KAFKA_TEST_BROKERS,
  createKafkaTestAdapter,
  createKafkaTestConsumer,
  createTestTopic,
} from '../../test/contract/targets/kafka.js';
import type { KafkaAdapter } from './kafka-adapter.js';

const { Kafka, logLevel } = kafkajs;

const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
let topics = 0;

function envelope(destination: string, overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  return {
    id: randomUUID(),
    tenant: 'broker-test',
    topic: destination,
    destination,
    payload: new TextEncoder().encode(JSON.stringify({ n: Math.random() })),
    contentType: 'application/json',
    headers: {},
    createdAt: Date.now(),
    ...overrides,
  };
}

function receiptOf(result: PublishResult | undefined): { partition: number; offset: string } {
  assert.ok(result, 'missing result');
  if (!result.ok) assert.fail(`publish failed: ${result.error.code} ${result.error.message}`);
  const { partition, offset } = result.receipt;
  assert.equal(typeof partition, 'number');
  assert.equal(typeof offset, 'string');
  return { partition: partition!, offset: offset! };
}

describe('kafka adapter against the real broker', { concurrency: false }, () => {
  let admin: Admin;
  let adapter: KafkaAdapter;

  async function freshTopic(): Promise<string> {
    topics++;
    const topic = `pubgate.adapter-test.${runId}.t${topics}`;
    await createTestTopic(admin, topic);
    return topic;
  }

  before(async () => {
    await ensureBrokers(['kafka']);
    admin = new Kafka({
      clientId: 'pubgate-adapter-test',
      brokers: KAFKA_TEST_BROKERS,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    // A linger long enough that calls made in one burst certainly share a flush, so the assertion
    // below measures coalescing, not timing luck.
    adapter = createKafkaTestAdapter(`kafka-broker-test-${runId}`, { config: { lingerMs: 5 } });
    await adapter.connect(AbortSignal.timeout(30_000));
  });

  after(async () => {
    await adapter?.close();
    await admin?.disconnect();
  });

  it('coalesces 200 concurrent single-message publishes into a few produce requests, with exact receipts', async () => {
    const topic = await freshTopic();
    const consumer = await createKafkaTestConsumer({ topic });
    try {
      const keys = Array.from({ length: 10 }, (_, i) => `key-${i}`);
      const sent = Array.from({ length: 200 }, (_, i) =>
        envelope(topic, {
          // Every fifth message has no key: kafkajs spreads those round-robin.
          ...(i % 5 === 4 ? {} : { key: keys[i % keys.length] }),
          headers: { seq: String(i) },
        }),
      );
      const before = adapter.stats();
      const results = await Promise.all(
        sent.map((m) => adapter.publish([m], { signal: AbortSignal.timeout(15_000) })),
      );
      const after = adapter.stats();

      const flushes = after.flushes - before.flushes;
      const produceRequests = after.produceRequests - before.produceRequests;
      assert.ok(flushes >= 1 && flushes <= 5, `200 concurrent publishes took ${flushes} sendBatch calls`);
      assert.ok(produceRequests <= flushes * 2, `${produceRequests} produce requests for ${flushes} flushes`);

      const receipts = new Map(sent.map((m, i) => [m.id, receiptOf(results[i]?.[0])]));
      const places = new Set([...receipts.values()].map((r) => `${r.partition}/${r.offset}`));
      assert.equal(places.size, sent.length, 'two messages got the same partition/offset in their receipts');

      const consumed = await consumer.receive(sent.length, 30_000);
      const partitionsUsed = new Set(consumed.map((m) => m.partition));
      assert.ok(partitionsUsed.size > 1, 'the test topic has 3 partitions; messages should spread');
      for (const message of consumed) {
        const receipt = receipts.get(message.id);
        assert.ok(receipt, `consumed an unknown message ${message.id}`);
        assert.deepEqual(
          { partition: message.partition, offset: message.offset },
          receipt,
          `receipt of ${message.id} does not match where Kafka stored it`,
        );
      }
      // Calls enqueue synchronously, so per key the consumed order is the call order.
      for (const key of keys) {
        const seqs = consumed.filter((m) => m.key === key).map((m) => Number(m.headers.seq));
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
          `key ${key} out of order: ${seqs.join(',')}`,
        );
      }
    } finally {
      await consumer.close();
    }
  });

  it('gives the messages of one multi-partition batch consecutive offsets per partition', async () => {
    const topic = await freshTopic();
    const sent = Array.from({ length: 30 }, (_, i) => envelope(topic, { key: `k${i % 7}` }));
    const results = await adapter.publish(sent, { signal: AbortSignal.timeout(15_000) });
    const byPartition = new Map<number, bigint[]>();
    for (const result of results) {
      const { partition, offset } = receiptOf(result);
      byPartition.set(partition, [...(byPartition.get(partition) ?? []), BigInt(offset)]);
    }
    assert.ok(byPartition.size > 1);
    for (const [partition, offsets] of byPartition) {
      // A fresh topic: each partition's batch starts at 0 and counts up without gaps.
      assert.deepEqual(
        offsets,
        offsets.map((_, i) => BigInt(i)),
        `partition ${partition}: ${offsets.join(',')}`,
      );
    }
  });

  it('does not let a missing topic fail the other topics of a coalesced flush', async () => {
    const strict = createKafkaTestAdapter(`kafka-broker-test-strict-${runId}`, {
      config: { lingerMs: 20, allowAutoTopicCreation: false },
    });
    try {
      await strict.connect(AbortSignal.timeout(30_000));
      const good = await freshTopic();
      const missing = `pubgate.adapter-test.${runId}.missing`;
      const [goodResults, missingResults] = await Promise.all([
        strict.publish([envelope(good, { key: 'a' }), envelope(good, { key: 'b' })], {
          signal: AbortSignal.timeout(15_000),
        }),
        strict.publish([envelope(missing, { key: 'a' })], { signal: AbortSignal.timeout(15_000) }),
      ]);
      for (const result of goodResults) receiptOf(result);
      const failed = missingResults[0];
      assert.ok(failed && !failed.ok, 'a publish to a missing topic must fail when auto-creation is off');
      assert.equal(failed.error.code, 'ADP_ERR_NO_DESTINATION', failed.error.message);
      assert.equal(failed.error.retriable, false);
      assert.equal(failed.error.ambiguous, false);
      // Still usable afterwards.
      receiptOf((await strict.publish([envelope(good)], { signal: AbortSignal.timeout(15_000) }))[0]);
      assert.equal(strict.stats().state, 'up');
    } finally {
      await strict.close();
    }
  });

  it('reports healthy, and caches the answer', async () => {
    const first = await adapter.health();
    assert.deepEqual(first, { ok: true });
    const start = performance.now();
    await adapter.health();
    assert.ok(performance.now() - start < 5, 'a second health() within a second must come from the cache');
  });
});
