import { Kafka, logLevel, type Producer } from 'kafkajs';
import { ADDRESSES } from '../../deploy/local/brokers.js';
import type { BenchTarget } from './types.js';

/**
 * kafkajs the way a service would use it on its own: an idempotent producer, acks=all, one
 * `send()` per message (the adapter's settings; it differs only in batching concurrent requests).
 */
export const kafkaBench: BenchTarget = {
  name: 'kafka',
  config: 'deploy/config/kafka.yaml',
  unreachableEnv: { KAFKA_BROKER: '127.0.0.1:1' },
  brokers: ['kafka'],
  destination: (topic) => topic,
  async prepare(topic) {
    // Created up front on both sides, so neither pays for topic auto-creation inside the run.
    const admin = new Kafka({
      clientId: 'pubgate-bench',
      brokers: [ADDRESSES.kafka],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  },
  createDirect() {
    const kafka = new Kafka({
      clientId: 'pubgate-bench-direct',
      brokers: [ADDRESSES.kafka],
      logLevel: logLevel.NOTHING,
    });
    let producer: Producer;
    let topic = '';
    return {
      async open(destination) {
        topic = destination;
        await kafkaBench.prepare!(destination);
        producer = kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
        });
        await producer.connect();
      },
      async send(payload, id) {
        await producer.send({
          topic,
          acks: -1,
          messages: [{ value: payload, headers: { 'pubgate-id': id, 'content-type': 'application/json' } }],
        });
      },
      async close() {
        await producer.disconnect();
      },
    };
  },
};
