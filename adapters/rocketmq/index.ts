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
});

export { rocketMqConfigSchema, type RocketMqConfig } from './config.js';
export { createRocketMqAdapter, type RocketMqAdapterInternals } from './rocketmq-adapter.js';
export { addressFor, toRocketMqTopic } from './destination.js';
export { fromRocketMqProperties, toRocketMqProperties } from './wire-properties.js';
export { classifyRocketMqError } from './classify-error.js';
export { createRocketMqReader } from './rocketmq-reader.js';
