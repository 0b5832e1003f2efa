/**
 * The RocketMQ adapter kind: config schema and factory, as the adapter registry lists it.
 */
import { createRocketMqReader } from './rocketmq-reader.js';
import { defineAdapterKind } from '../core/index.js';
import { rocketMqConfigSchema, type RocketMqConfig } from './config.js';
import { createRocketMqAdapter } from './rocketmq-adapter.js';

export const rocketmqAdapterKind = defineAdapterKind<RocketMqConfig>({
  kind: 'rocketmq',
  configSchema: rocketMqConfigSchema,
  create: createRocketMqAdapter,
  createReader: createRocketMqReader,
  declarations: {
    reservedTopics: {
      description: "RocketMQ's system, retry and dead-letter topics",
      prefixes: ['RMQ_SYS_', '%DLQ%', '%RETRY%'],
      names: ['TBW102', 'SCHEDULE_TOPIC_XXXX'],
    },
    // System properties a publisher could try to steer delivery with. Every other MessageConst
    // name a user header may take travels escaped (wire-properties.ts).
    reservedHeaders: {
      description: "RocketMQ's system properties",
      names: [
        'KEYS',
        'TAGS',
        'DELAY',
        'WAIT',
        'UNIQ_KEY',
        'MAX_OFFSET',
        'MIN_OFFSET',
        'TRANSACTION_PREPARED',
        'MSG_REGION',
        'TRACE_ON',
        '__STARTDELIVERTIME',
      ],
      prefixes: ['RMQ_SYS_'],
    },
    receipt: { brokerMessageId: 'The RocketMQ message id the send returned.' },
    // No CloudEvents binding in the CloudEvents spec: the RocketMQ one of Apache RocketMQ's
    // rocketmq-cloudevents project and the CloudEvents Java SDK (cloudevents-rocketmq): attributes
    // as `CE_<name>` user properties, datacontenttype as `CE_contenttype`.
    cloudEvents: {
      convention: 'RocketMQ binding of Apache RocketMQ and the CloudEvents Java SDK (CE_ properties)',
      attributePrefix: 'CE_',
      contentTypeHeader: 'CE_contenttype',
    },
    readerOptions: {
      group:
        "SimpleConsumer group. Default: a new unique group. A new group starts at the topic's first message only while the broker still holds it in memory; for a reliable read-back, let the group read once before publishing and pass it here.",
    },
  },
});

export { rocketMqConfigSchema, type RocketMqConfig } from './config.js';
export { createRocketMqAdapter, type RocketMqAdapterInternals } from './rocketmq-adapter.js';
export { addressFor, toRocketMqTopic } from './destination.js';
export { fromRocketMqProperties, toRocketMqProperties } from './wire-properties.js';
export { classifyRocketMqError } from './classify-error.js';
export { createRocketMqReader } from './rocketmq-reader.js';
