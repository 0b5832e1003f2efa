import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdapterError, fromWireHeaders, type MessageEnvelope } from '../core/index.js';
import { rocketMqConfigSchema } from './config.js';
import { addressFor, messageGroupFor, messageKeysFor, toRocketMqTopic } from './destination.js';
import { ESCAPED_PROPERTY_PREFIX, fromRocketMqProperties, toRocketMqProperties } from './wire-properties.js';

function envelope(overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  return {
    id: '0190a0b0-0000-7000-8000-000000000001',
    tenant: 'acme',
    topic: 'demo.orders',
    destination: 'demo.orders',
    payload: new Uint8Array([1, 2, 3]),
    contentType: 'application/json',
    headers: {},
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

function invalidDestination(fn: () => unknown): void {
  assert.throws(
    fn,
    (error: unknown) => error instanceof AdapterError && error.code === 'ADP_ERR_INVALID_DESTINATION',
  );
}

describe('topic name mapping', () => {
  it('replace: every character outside [A-Za-z0-9_-] becomes _', () => {
    assert.equal(toRocketMqTopic('demo.orders', 'replace'), 'demo_orders');
    assert.equal(toRocketMqTopic('a.b-c_d.E9', 'replace'), 'a_b-c_d_E9');
    assert.equal(toRocketMqTopic('naïve.topic', 'replace'), 'na_ve_topic');
    assert.equal(toRocketMqTopic('tenant%x|y', 'replace'), 'tenant_x_y');
  });

  it('strict: refuses what replace would map', () => {
    assert.equal(toRocketMqTopic('demo_orders', 'strict'), 'demo_orders');
    invalidDestination(() => toRocketMqTopic('demo.orders', 'strict'));
  });

  it('refuses empty, over-long and system topics', () => {
    invalidDestination(() => toRocketMqTopic('', 'replace'));
    assert.equal(toRocketMqTopic('x'.repeat(127), 'replace').length, 127);
    invalidDestination(() => toRocketMqTopic('x'.repeat(128), 'replace'));
    invalidDestination(() => toRocketMqTopic('TBW102', 'replace'));
    invalidDestination(() => toRocketMqTopic('RMQ_SYS_TRACE_TOPIC', 'replace'));
    invalidDestination(() => toRocketMqTopic('rmq_sys.whatever', 'replace'));
  });
});

describe('addressFor', () => {
  const base = { topicNameMapping: 'replace' as const, topic: undefined, tag: undefined };

  it('maps the destination to a topic, without tag by default', () => {
    assert.deepEqual(addressFor('demo.orders', base), { topic: 'demo_orders' });
    assert.deepEqual(addressFor('demo.orders', { ...base, tag: 'gw' }), { topic: 'demo_orders', tag: 'gw' });
  });

  it('with a fixed topic the destination becomes the tag, a fixed tag wins', () => {
    assert.deepEqual(addressFor('demo.orders', { ...base, topic: 'events' }), {
      topic: 'events',
      tag: 'demo.orders',
    });
    assert.deepEqual(addressFor('demo.orders', { ...base, topic: 'events', tag: 'fixed' }), {
      topic: 'events',
      tag: 'fixed',
    });
    invalidDestination(() => addressFor('a||b', { ...base, topic: 'events' }));
    invalidDestination(() => addressFor('  ', { ...base, topic: 'events' }));
  });
});

describe('message group and keys', () => {
  it('group = key; unkeyed = own id or the configured group', () => {
    assert.equal(messageGroupFor(envelope({ key: 'customer-42' }), undefined), 'customer-42');
    assert.equal(messageGroupFor(envelope(), undefined), '0190a0b0-0000-7000-8000-000000000001');
    assert.equal(messageGroupFor(envelope(), 'unkeyed'), 'unkeyed');
  });

  it('keys the proxy would refuse become a stable digest of at most 64 bytes', () => {
    const long = 'k'.repeat(65);
    const group = messageGroupFor(envelope({ key: long }), undefined);
    assert.ok(Buffer.byteLength(group) <= 64, group);
    assert.equal(group, messageGroupFor(envelope({ key: long, id: 'other' }), undefined));
    assert.notEqual(group, messageGroupFor(envelope({ key: 'k'.repeat(66) }), undefined));
    assert.match(messageGroupFor(envelope({ key: 'a\u0001b' }), undefined), /^pubgate-sha256-/);
  });

  it('keys are the envelope key and the id, blank and control-character ones left out', () => {
    assert.deepEqual(messageKeysFor(envelope({ key: 'customer-42' })), ['customer-42', envelope().id]);
    assert.deepEqual(messageKeysFor(envelope({ key: ' ' })), [envelope().id]);
    assert.deepEqual(messageKeysFor(envelope({ key: 'a\nb' })), [envelope().id]);
  });
});

describe('wire properties', () => {
  it('round-trips through fromRocketMqProperties and fromWireHeaders', () => {
    const sent = envelope({
      key: 'k1',
      headers: { 'ce-type': 'order.created', traceparent: '00-abc-def-01' },
    });
    const properties = toRocketMqProperties(sent);
    assert.equal(properties.get('pubgate-id'), sent.id);
    assert.equal(properties.get('traceparent'), '00-abc-def-01');
    const decoded = fromWireHeaders(fromRocketMqProperties(properties));
    assert.equal(decoded.id, sent.id);
    assert.equal(decoded.key, 'k1');
    assert.equal(decoded.contentType, 'application/json');
    assert.deepEqual(decoded.headers, sent.headers);
  });

  it('escapes RocketMQ system names and control characters, and decodes them back', () => {
    const headers = { KEYS: 'mine', __SHARDINGKEY: 'x', 'x-tab': 'a\tb', 'x-ok': 'plain' };
    const properties = toRocketMqProperties(envelope({ headers }));
    assert.equal(properties.has('KEYS'), false);
    assert.equal(properties.has('__SHARDINGKEY'), false);
    assert.equal(properties.has('x-tab'), false);
    assert.equal(properties.get('x-ok'), 'plain');
    for (const [name, value] of properties) {
      assert.doesNotMatch(name + value, /\p{Cc}/u, `${name} carries a control character`);
    }
    assert.ok([...properties.keys()].some((name) => name.startsWith(ESCAPED_PROPERTY_PREFIX)));
    assert.deepEqual(fromWireHeaders(fromRocketMqProperties(properties)).headers, headers);
  });

  it("drops the broker's own properties on the way back", () => {
    const received = new Map([
      ['pubgate-id', 'id-1'],
      ['content-type', 'text/plain'],
      ['seq', '3'],
      ['__SHARDINGKEY', 'k'],
      ['UNIQ_KEY', 'AC11000100002A9F0000000000000000'],
      ['TRACE_CONTEXT', 'x'],
    ]);
    assert.deepEqual(fromRocketMqProperties(received), {
      'pubgate-id': 'id-1',
      'content-type': 'text/plain',
      seq: '3',
    });
  });
});

describe('config', () => {
  const minimal = { kind: 'rocketmq', endpoints: '127.0.0.1:8081' };

  it('fills every default', () => {
    const config = rocketMqConfigSchema.parse(minimal);
    assert.deepEqual(
      { ...config },
      {
        kind: 'rocketmq',
        endpoints: '127.0.0.1:8081',
        routeEndpoints: 'advertised',
        tls: false,
        topicNameMapping: 'replace',
        fifo: false,
        sendTimeoutMs: 10_000,
        requestTimeoutMs: 3_000,
        maxAttempts: 1,
        maxMessageBytes: 4 * 1024 * 1024,
        reconnectInitialDelayMs: 500,
        reconnectMaxDelayMs: 5_000,
      },
    );
  });

  it('rejects bad config loudly', () => {
    const bad = [
      { ...minimal, endpoints: '' },
      { ...minimal, endpoints: 'http://127.0.0.1:8081' },
      { ...minimal, unknown: true },
      { ...minimal, topic: 'demo.orders' },
      { ...minimal, requestTimeoutMs: 500 },
      { ...minimal, unkeyedMessageGroup: 'g' },
      { ...minimal, reconnectInitialDelayMs: 1000, reconnectMaxDelayMs: 10 },
      { ...minimal, tag: 'a|b' },
      { ...minimal, credentials: { accessKey: 'ak' } },
    ];
    for (const config of bad)
      assert.equal(rocketMqConfigSchema.safeParse(config).success, false, JSON.stringify(config));
    assert.equal(
      rocketMqConfigSchema.safeParse({
        ...minimal,
        endpoints: 'h1:8081;h2:8081',
        fifo: true,
        unkeyedMessageGroup: 'g',
      }).success,
      true,
    );
  });
});
