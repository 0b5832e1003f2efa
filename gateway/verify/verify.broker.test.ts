/**
 * verifyTopic against the real Kafka: resolves the topic through the routes, reads it back with
 * the Kafka reader and reports lost, unexpected, duplicates and gaps from real deliveries.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { silentLogger, toWireHeaders, type MessageEnvelope } from '../../adapters/core/index.js';
import { createSequencer } from '../../adapters/reliability/sequence.js';
import { ADDRESSES, ensureBrokers } from '../../deploy/local/brokers.js';
import { configSchema } from '../config/schema.js';
import { NO_ID } from './analyze.js';
import { verifyTopic } from './verify.js';

describe('verifyTopic (kafka)', () => {
  const topic = `verify.test.${Date.now().toString(36)}${randomUUID().slice(0, 6)}`;
  const kafka = new kafkajs.Kafka({ brokers: [ADDRESSES.kafka], logLevel: kafkajs.logLevel.NOTHING });
  const producer = kafka.producer();
  const config = configSchema.parse({
    brokers: { k: { kind: 'kafka', brokers: [ADDRESSES.kafka] } },
    routes: [{ topic: 'verify.**', target: 'k' }],
    tenants: { t: { keys: ['k'], topics: ['**'] } },
  });

  before(async () => {
    await ensureBrokers(['kafka']);
    await producer.connect();
  });
  after(() => producer.disconnect());

  it(
    'reports lost, unexpected, duplicates and gaps from what the broker delivered',
    { timeout: 120_000 },
    async () => {
      const sequencer = createSequencer({ producerId: 'p' });
      const envelopes: MessageEnvelope[] = Array.from({ length: 5 }, (_, i) =>
        sequencer.stamp({
          id: `m${i}`,
          tenant: 't',
          topic,
          destination: topic,
          key: 'k',
          payload: new Uint8Array(),
          contentType: 'text/plain',
          headers: {},
          createdAt: Date.now(),
        }),
      );
      // m2 "lost" (never sent: a gap at seq 3), m4 delivered twice, one foreign message without an id.
      const sent = [envelopes[0]!, envelopes[1]!, envelopes[3]!, envelopes[4]!, envelopes[4]!];
      await producer.send({
        topic,
        messages: [
          ...sent.map((e) => ({ key: 'k', value: 'x', headers: toWireHeaders(e) })),
          { value: 'foreign' },
        ],
      });
      const report = await verifyTopic(
        config,
        topic,
        { expected: ['m0', 'm1', 'm2', 'm3', 'm4'], idleMs: 2_000, maxMs: 60_000 },
        { logger: silentLogger },
      );
      assert.equal(report.received, 6);
      assert.equal(report.distinct, 4);
      assert.deepEqual(report.lost, ['m2']);
      assert.deepEqual(report.unexpected, [NO_ID]);
      assert.deepEqual(report.duplicates, [{ id: 'm4', count: 2 }]);
      assert.deepEqual(
        report.gaps.map((g) => [g.producer, g.key, g.missing]),
        [['p', 'k', [[3, 3]]]],
      );
      assert.equal(report.ok, false);
    },
  );
});
