import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { z } from 'zod';
import { kafkaConfigSchema } from './config.js';

const minimal = { kind: 'kafka', brokers: ['127.0.0.1:9092'] } as const;

function issues(input: unknown): string[] {
  const result = kafkaConfigSchema.safeParse(input);
  assert.equal(result.success, false, 'config should have been rejected');
  return result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('kafkaConfigSchema', () => {
  it('fills in every documented default', () => {
    assert.deepEqual(kafkaConfigSchema.parse(minimal), {
      kind: 'kafka',
      brokers: ['127.0.0.1:9092'],
      clientId: 'pubgate',
      acks: 'all',
      idempotent: true,
      compression: 'none',
      lingerMs: 1,
      batchMaxMessages: 500,
      maxQueuedMessages: 10_000,
      maxMessageBytes: 1_048_576,
      connectionTimeoutMs: 3000,
      requestTimeoutMs: 5000,
      deliveryTimeoutMs: 8000,
      healthCheckTimeoutMs: 2000,
      allowAutoTopicCreation: true,
      ssl: false,
      retry: { retries: 3, initialRetryTimeMs: 100, maxRetryTimeMs: 1000 },
      reconnect: { initialDelayMs: 250, maxDelayMs: 5000 },
      clientLogLevel: 'info',
    });
  });

  it('documents every option with its default', () => {
    const walk = (schema: z.ZodObject, prefix: string) => {
      for (const [name, field] of Object.entries(schema.shape)) {
        if (name === 'kind') continue;
        const description = (field as z.ZodType).description;
        assert.ok(description, `${prefix}${name} has no description`);
        assert.match(description, /Default: |Required/, `${prefix}${name} does not state its default`);
      }
    };
    walk(kafkaConfigSchema, '');
  });

  it('accepts SASL over TLS, IPv6 and host names', () => {
    const config = kafkaConfigSchema.parse({
      ...minimal,
      brokers: ['kafka-0.kafka.svc:9093', '[::1]:9092'],
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'pubgate', password: 's3cret' },
      compression: 'gzip',
    });
    assert.equal(config.sasl?.mechanism, 'scram-sha-512');
  });

  it('rejects bad config loudly', () => {
    assert.ok(issues({ ...minimal, brokers: [] }).some((m) => m.startsWith('brokers')));
    assert.ok(issues({ ...minimal, brokers: ['localhost'] }).some((m) => m.startsWith('brokers.0')));
    assert.ok(issues({ ...minimal, brokers: ['h:70000'] }).some((m) => m.startsWith('brokers.0')));
    assert.ok(issues({ ...minimal, acks: '1' }).some((m) => m.startsWith('acks') && m.includes('durable')));
    assert.ok(issues({ ...minimal, compression: 'snappy' }).some((m) => m.startsWith('compression')));
    assert.ok(issues({ ...minimal, sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } }).length > 0);
    assert.ok(issues({ ...minimal, retry: { retries: 0 } }).some((m) => m.startsWith('retry.retries')));
    assert.ok(issues({ ...minimal, unknownOption: true }).some((m) => m.includes('unknownOption')));
    assert.ok(issues({ ...minimal, batchMaxBytes: 2_000_000 }).some((m) => m.startsWith('batchMaxBytes')));
    assert.ok(
      issues({ ...minimal, requestTimeoutMs: 10_000, deliveryTimeoutMs: 5000 }).some((m) =>
        m.startsWith('deliveryTimeoutMs'),
      ),
    );
    assert.ok(
      issues({ ...minimal, reconnect: { initialDelayMs: 1000, maxDelayMs: 10 } }).some((m) =>
        m.startsWith('reconnect.maxDelayMs'),
      ),
    );
  });
});
