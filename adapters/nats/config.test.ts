import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MAX_MESSAGE_BYTES, natsConfigSchema, serverList } from './config.js';
import { connectionOptions, redactServers } from './connection.js';

describe('nats config', () => {
  it('fills every default', () => {
    const config = natsConfigSchema.parse({ kind: 'nats' });
    assert.deepEqual(config, {
      kind: 'nats',
      servers: 'nats://127.0.0.1:4222',
      subjectPrefix: '',
      publishTimeoutMs: 10_000,
      connectTimeoutMs: 10_000,
      reconnect: { initialDelayMs: 500, maxDelayMs: 30_000 },
      pingIntervalMs: 10_000,
      maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
      provision: {
        enabled: false,
        streamPrefix: 'PUBGATE_',
        subjects: 'exact',
        replicas: 1,
        maxAgeMs: 7 * 24 * 3600_000,
        duplicateWindowMs: 120_000,
      },
    });
    assert.equal(DEFAULT_MAX_MESSAGE_BYTES, 1024 * 1024);
  });

  it('fills the provision defaults when only some are given', () => {
    const config = natsConfigSchema.parse({ kind: 'nats', provision: { enabled: true, replicas: 3 } });
    assert.equal(config.provision.enabled, true);
    assert.equal(config.provision.replicas, 3);
    assert.equal(config.provision.streamPrefix, 'PUBGATE_');
    assert.equal(config.provision.maxAgeMs, 7 * 24 * 3600_000);
  });

  it('documents every option with its default', () => {
    for (const [name, schema] of Object.entries(natsConfigSchema.shape)) {
      if (name === 'kind') continue;
      assert.match(schema.description ?? '', /Default: |Required\./, `option ${name} lacks "Default:"`);
    }
    for (const [name, schema] of Object.entries(natsConfigSchema.shape.provision.unwrap().shape)) {
      assert.match(schema.description ?? '', /Default: /, `option provision.${name} lacks "Default:"`);
    }
  });

  it('rejects unknown keys, bad URLs and bad values loudly', () => {
    const base = { kind: 'nats' };
    for (const bad of [
      { ...base, sevrers: 'nats://h:4222' },
      { ...base, servers: 'http://h:4222' },
      { ...base, servers: 'not a url' },
      { ...base, servers: [] },
      { ...base, user: 'u' },
      { ...base, pass: 'p' },
      { ...base, token: 't', user: 'u', pass: 'p' },
      { ...base, subjectPrefix: 'pubgate' },
      { ...base, subjectPrefix: 'a.*.' },
      { ...base, subjectPrefix: 'a b.' },
      { ...base, subjectPrefix: '.a.' },
      { ...base, publishTimeoutMs: 0 },
      { ...base, maxMessageBytes: 100 },
      { ...base, reconnect: { initialDelayMs: 1000, maxDelayMs: 10 } },
      { ...base, provision: { enabled: 'yes' } },
      { ...base, provision: { streamPrefix: 'a.b' } },
      { ...base, provision: { replicas: 0 } },
      { ...base, provision: { storage: 'memory' } },
      { ...base, provision: { subjects: 'all' } },
      { ...base, provision: { maxAgeMs: 60_000, duplicateWindowMs: 120_000 } },
    ]) {
      assert.equal(natsConfigSchema.safeParse(bad).success, false, `accepted ${JSON.stringify(bad)}`);
    }
  });

  it('accepts a cluster, credentials and a subject prefix', () => {
    const config = natsConfigSchema.parse({
      kind: 'nats',
      servers: ['nats://a:4222', 'tls://b:4222'],
      user: 'pubgate',
      pass: 's3cret',
      subjectPrefix: 'pubgate.events.',
    });
    assert.deepEqual(serverList(config), ['nats://a:4222', 'tls://b:4222']);
    const options = connectionOptions('t1', config);
    assert.equal(options.user, 'pubgate');
    assert.equal(options.pass, 's3cret');
    assert.equal(options.reconnect, false, 'the adapter reconnects itself, with the shared backoff');
    assert.equal(options.name, 'pubgate:t1');
    assert.equal(natsConfigSchema.parse({ kind: 'nats', token: 'tok' }).token, 'tok');
  });

  it('never echoes URLs or credentials in errors and logs', () => {
    const result = natsConfigSchema.safeParse({ kind: 'nats', servers: 'http://user:s3cret@host' });
    assert.equal(result.success, false);
    assert.doesNotMatch(JSON.stringify(result.error?.issues), /s3cret/);
    const config = natsConfigSchema.parse({ kind: 'nats', servers: 'nats://user:s3cret@host:4222' });
    assert.equal(redactServers(config), 'nats://host:4222');
  });
});
