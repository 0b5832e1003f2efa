/**
 * Contract target for the Kafka adapter, against the project's local Kafka (deploy/local/brokers.ts).
 *
 * - Every destination is a new topic `pubgate.contract.<run id>.d<n>`, created with 3 partitions
 *   before use, so the per-key ordering case spreads its keys over several partitions.
 * - The consumer is the Kafka reader (adapters/kafka/kafka-reader.ts): a real kafkajs consumer in
 *   its own consumer group, reading from the beginning, ready once its partitions are assigned.
 *   Redeliveries are dropped by message id (after the broker restart case an uncommitted offset
 *   can deliver a message again).
 */
import { randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { silentLogger, type BrokerAdapter, type ReadMessage } from '../../../adapters/core/index.js';
import { kafkaConfigSchema } from '../../../adapters/kafka/config.js';
import { createKafkaReader } from '../../../adapters/kafka/kafka-reader.js';
import { createKafkaAdapter, type KafkaAdapter } from '../../../adapters/kafka/kafka-adapter.js';
import { ensureBrokers, restartBroker } from '../../../deploy/local/brokers.js';
import { consumerFromReader } from '../reader-consumer.js';
import { consumerTracker, type ContractTarget, type TestConsumer } from '../target.js';

const { Kafka, logLevel } = kafkajs;

/** The local Kafka (see BROKERS.md); PUBGATE_TEST_KAFKA_BROKERS (comma-separated) points the tests elsewhere. */
export const KAFKA_TEST_BROKERS = (process.env.PUBGATE_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

/** Partitions of every test topic: more than one, so per-key order is tested across partitions. */
export const TEST_TOPIC_PARTITIONS = 3;

export interface KafkaTargetOptions {
  readonly brokers?: readonly string[];
}

export function createKafkaTarget(options: KafkaTargetOptions = {}): ContractTarget {
  const brokers = [...(options.brokers ?? KAFKA_TEST_BROKERS)];
  const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const kafka = new Kafka({ clientId: `pubgate-contract-${runId}`, brokers, logLevel: logLevel.NOTHING });
  let admin: Admin | undefined;
  let adapters = 0;
  let destinations = 0;
  const consumers = consumerTracker();

  return {
    name: 'kafka',

    async setup() {
      await ensureBrokers(['kafka']);
      admin = kafka.admin();
      await admin.connect();
    },

    createAdapter(): BrokerAdapter {
      adapters++;
      return createKafkaTestAdapter(`kafka-contract-${runId}-${adapters}`, { brokers });
    },

    async freshDestination() {
      destinations++;
      const topic = `pubgate.contract.${runId}.d${destinations}`;
      await createTestTopic(admin ?? failNoSetup(), topic);
      return topic;
    },

    async createConsumer(_adapter: BrokerAdapter, destination: string): Promise<TestConsumer> {
      const consumer = await createKafkaTestConsumer({ brokers, topic: destination });
      return consumers.track(consumer);
    },

    async restartBroker() {
      await restartBroker('kafka');
    },

    async teardown() {
      await consumers.closeAll();
      // Test topics stay: deleting them costs the broker more than the few KiB they hold.
      await admin?.disconnect().catch(() => {});
      admin = undefined;
    },
  };
}

function failNoSetup(): never {
  throw new Error('kafka contract target: setup() was not called');
}

/** An adapter for the tests, with a short reconnect backoff so the restart case recovers quickly. */
export function createKafkaTestAdapter(
  target: string,
  options: { brokers?: readonly string[]; config?: Record<string, unknown> } = {},
): KafkaAdapter {
  const config = kafkaConfigSchema.parse({
    kind: 'kafka',
    brokers: [...(options.brokers ?? KAFKA_TEST_BROKERS)],
    clientId: 'pubgate-test',
    reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
    ...options.config,
  });
  return createKafkaAdapter(target, config, { logger: silentLogger });
}

/** Creates a topic with TEST_TOPIC_PARTITIONS partitions and waits until every partition has a leader. */
export async function createTestTopic(
  admin: Admin,
  topic: string,
  partitions = TEST_TOPIC_PARTITIONS,
): Promise<void> {
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
}

/** A message as the test consumer saw it, with where Kafka stored it. */
export interface KafkaConsumedMessage extends ReadMessage {
  readonly partition: number;
  readonly offset: string;
}

export interface KafkaTestConsumer extends TestConsumer {
  receive(count: number, timeoutMs: number): Promise<KafkaConsumedMessage[]>;
}

/**
 * The Kafka reader (adapters/kafka/kafka-reader.ts) on one topic, in a fresh consumer group from the
 * beginning, resolving once its partitions are assigned. Redeliveries are dropped by id.
 */
export async function createKafkaTestConsumer(options: {
  brokers?: readonly string[];
  topic: string;
}): Promise<KafkaTestConsumer> {
  const config = kafkaConfigSchema.parse({
    kind: 'kafka',
    brokers: [...(options.brokers ?? KAFKA_TEST_BROKERS)],
    clientId: 'pubgate-test',
  });
  const reader = await createKafkaReader(config, { destination: options.topic }, { logger: silentLogger });
  const consumer = consumerFromReader(reader, { dropRedeliveries: true });
  return {
    receive: async (count, timeoutMs) =>
      (await consumer.receive(count, timeoutMs)).map((message) => ({
        ...message,
        partition: message.partition ?? -1,
        offset: message.offset ?? '',
      })),
    close: consumer.close,
  };
}
