import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MAX_MESSAGE_BYTES, rabbitmqConfigSchema } from './config.js';

describe('rabbitmq config', () => {
  it('fills every default', () => {
    const config = rabbitmqConfigSchema.parse({ kind: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:5672' });
    assert.deepEqual(config, {
      kind: 'rabbitmq',
      url: 'amqp://guest:guest@127.0.0.1:5672',
      exchange: 'pubgate',
      exchangeType: 'topic',
      declareExchange: true,
      mandatory: true,
      confirmTimeoutMs: 10_000,
      maxInFlight: 1000,
      connectTimeoutMs: 10_000,
      reconnect: { initialDelayMs: 500, maxDelayMs: 30_000 },
      heartbeatSeconds: 10,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    });
    assert.equal(DEFAULT_MAX_MESSAGE_BYTES, 16 * 1024 * 1024);
  });

  it('documents every option with its default', () => {
    for (const [name, schema] of Object.entries(rabbitmqConfigSchema.shape)) {
      if (name === 'kind') continue;
      const description = schema.description ?? '';
      assert.match(description, /Default: |Required\./, `option ${name} lacks "Default:" in its description`);
    }
  });

  it('rejects unknown keys, bad URLs and bad values loudly', () => {
    const base = { kind: 'rabbitmq', url: 'amqp://u:p@h:5672/v' };
    for (const bad of [
      { ...base, exchnage: 'typo' },
      { ...base, url: 'http://h:5672' },
      { ...base, url: 'not a url' },
      { ...base, url: 'amqp://h?heartbeat=5' },
      { kind: 'rabbitmq' },
      { ...base, exchangeType: 'headers' },
      { ...base, exchange: 'amq.topic' },
      { ...base, exchange: 'x'.repeat(256) },
      { ...base, confirmTimeoutMs: 0 },
      { ...base, maxInFlight: 0 },
      { ...base, heartbeatSeconds: -1 },
      { ...base, reconnect: { initialDelayMs: 1000, maxDelayMs: 10 } },
      { ...base, reconnect: { jitter: 1 } },
      { ...base, mandatory: 'yes' },
    ]) {
      assert.equal(rabbitmqConfigSchema.safeParse(bad).success, false, `accepted ${JSON.stringify(bad)}`);
    }
  });

  it('never echoes the URL (and its password) in a validation error', () => {
    const result = rabbitmqConfigSchema.safeParse({ kind: 'rabbitmq', url: 'http://user:s3cret@host' });
    assert.equal(result.success, false);
    assert.doesNotMatch(JSON.stringify(result.error?.issues), /s3cret/);
  });

  it('accepts amqps and a vhost', () => {
    const config = rabbitmqConfigSchema.parse({
      kind: 'rabbitmq',
      url: 'amqps://u:p%40ss@broker.example:5671/prod',
      exchange: 'events',
    });
    assert.equal(config.exchange, 'events');
  });
});
