/**
 * The RabbitMQ adapter's public face: its kind for the adapter registry, and the pieces tests and
 * tools may need.
 */
import { createRabbitMqReader } from './rabbitmq-reader.js';
import { defineAdapterKind } from '../core/index.js';
import { rabbitmqConfigSchema, type RabbitMqConfig } from './config.js';
import { createRabbitMqAdapter } from './rabbitmq-adapter.js';

export const rabbitmqAdapterKind = defineAdapterKind<RabbitMqConfig>({
  kind: 'rabbitmq',
  configSchema: rabbitmqConfigSchema,
  create: (target, config, deps) => createRabbitMqAdapter(target, config, deps),
  createReader: createRabbitMqReader,
});

export { rabbitmqConfigSchema, DEFAULT_MAX_MESSAGE_BYTES, type RabbitMqConfig } from './config.js';
export { createRabbitMqAdapter, RABBITMQ_KIND } from './rabbitmq-adapter.js';
export { classifyAmqpError } from './classify-error.js';
export { createRabbitMqReader } from './rabbitmq-reader.js';
