/**
 * The Kafka adapter's public face: its kind for the adapter registry, and the pieces tests and
 * tools may need.
 */
import { createKafkaReader } from './kafka-reader.js';
import type { AdapterKind } from '../core/index.js';
import { kafkaConfigSchema, type KafkaConfig } from './config.js';
import { createKafkaAdapter } from './kafka-adapter.js';

// `satisfies` rather than defineAdapterKind() (as adapters/embedded does): the same check, but the
// concrete zod object type of configSchema survives, which the gateway's z.discriminatedUnion over
// all kinds needs (defineAdapterKind's return type widens it to z.ZodType<Config>).
export const kafkaAdapterKind = {
  kind: 'kafka',
  configSchema: kafkaConfigSchema,
  create: createKafkaAdapter,
  createReader: createKafkaReader,
  declarations: {
    reservedTopics: {
      description:
        'Kafka keeps topics starting with "__" for itself (__consumer_offsets, __transaction_state)',
      prefixes: ['__'],
    },
    receipt: {
      partition: 'Kafka partition the message was written to.',
      offset: 'Offset of the message in its Kafka partition (decimal string).',
    },
    readerOptions: {
      group: 'Kafka consumer group. Default: a new unique group, which reads from the earliest offset.',
    },
    // CloudEvents Kafka protocol binding: attributes as `ce_<name>` headers, datacontenttype as `content-type`.
    cloudEvents: { convention: 'CloudEvents Kafka protocol binding 1.0', attributePrefix: 'ce_' },
  },
} as const satisfies AdapterKind<KafkaConfig>;

export {
  kafkaConfigSchema,
  DEFAULT_MAX_MESSAGE_BYTES,
  type KafkaConfig,
  type KafkaConfigInput,
} from './config.js';
export {
  createKafkaAdapter,
  validateTopicName,
  KAFKA_KIND,
  MAX_TOPIC_NAME_LENGTH,
  type KafkaAdapter,
  type KafkaAdapterState,
  type KafkaAdapterStats,
} from './kafka-adapter.js';
export { classifyKafkaError } from './classify-error.js';
export { createKafkaReader } from './kafka-reader.js';
