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
  declarations: {
    reservedTopics: { description: 'RabbitMQ reserves names starting with "amq."', prefixes: ['amq.'] },
    reservedHeaders: {
      description:
        "AMQP properties RabbitMQ validates or routes by (userId, CC, BCC) and RabbitMQ's own x- headers",
      names: [
        'userId',
        'user-id',
        'CC',
        'BCC',
        'x-delay',
        'x-death',
        'x-first-death-exchange',
        'x-first-death-queue',
        'x-first-death-reason',
        'x-match',
        'x-message-ttl',
        'x-deduplication-header',
      ],
    },
    // A publisher confirm carries no position and no id.
    receipt: {},
    // CloudEvents AMQP protocol binding: attributes as `cloudEvents:<name>` application properties
    // (AMQP 0-9-1 headers), datacontenttype as the content-type property.
    cloudEvents: { convention: 'CloudEvents AMQP protocol binding 1.0', attributePrefix: 'cloudEvents:' },
    readerOptions: {
      queue:
        'The queue to consume; declared durable and bound to the destination if missing. RabbitMQ keeps only what reached a queue, so bind it before publishing.',
    },
  },
});

export { rabbitmqConfigSchema, DEFAULT_MAX_MESSAGE_BYTES, type RabbitMqConfig } from './config.js';
export { createRabbitMqAdapter, RABBITMQ_KIND } from './rabbitmq-adapter.js';
export { classifyAmqpError } from './classify-error.js';
export { createRabbitMqReader } from './rabbitmq-reader.js';
