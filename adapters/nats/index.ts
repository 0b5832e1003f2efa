/**
 * The NATS JetStream adapter's public face: its kind for the adapter registry, and the pieces
 * tests and tools may need.
 */
import { defineAdapterKind } from '../core/index.js';
import { natsConfigSchema, type NatsConfig } from './config.js';
import { createNatsAdapter } from './nats-adapter.js';
import { createNatsReader } from './nats-reader.js';
import { RESERVED_SUBJECT_PREFIXES } from './subject.js';
import { NATS_HEADER_PREFIX } from './wire.js';

export const natsAdapterKind = defineAdapterKind<NatsConfig>({
  kind: 'nats',
  configSchema: natsConfigSchema,
  create: (target, config, deps) => createNatsAdapter(target, config, deps),
  createReader: createNatsReader,
  declarations: {
    reservedTopics: {
      description:
        'NATS reserves subjects starting with "$JS." (JetStream API), "$SYS." (system account), "$KV.", "$O.", "$NRG." and "_INBOX." (replies)',
      prefixes: [...RESERVED_SUBJECT_PREFIXES],
    },
    reservedHeaders: {
      description: 'NATS and JetStream headers (Nats-Msg-Id, Nats-Expected-*, Nats-Rollup, Nats-TTL, …)',
      names: [],
      prefixes: [NATS_HEADER_PREFIX],
    },
    receipt: {
      offset:
        'Sequence of the message in its JetStream stream (decimal string); for a resend the PubAck marked duplicate, the sequence of the first copy.',
      brokerMessageId:
        'The JetStream stream that stored the message and its sequence there, as <stream>:<sequence>.',
    },
    // CloudEvents NATS protocol binding: attributes as `ce-<name>` headers, datacontenttype as the
    // `content-type` header: the names envelopes already carry.
    cloudEvents: { convention: 'CloudEvents NATS protocol binding 1.0', attributePrefix: 'ce-' },
    readerOptions: {},
  },
});

export { natsConfigSchema, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_SERVER, type NatsConfig } from './config.js';
export { createNatsAdapter, NATS_KIND, type NatsAdapter, type NatsAdapterStats } from './nats-adapter.js';
export { classifyNatsError } from './classify-error.js';
export { createNatsReader } from './nats-reader.js';
export { toSubject, streamNameFor } from './subject.js';
