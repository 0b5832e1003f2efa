import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BrokerAdapter, PublishResult } from './adapter.js';
import type { MessageEnvelope } from './envelope.js';
import { cloudEventsWireHeaders, withCloudEventsBinding, type CloudEventsBinding } from './wire-headers.js';

const KAFKA: CloudEventsBinding = { convention: 'kafka', attributePrefix: 'ce_' };
const AMQP: CloudEventsBinding = { convention: 'amqp', attributePrefix: 'cloudEvents:' };
const ROCKETMQ: CloudEventsBinding = {
  convention: 'rocketmq',
  attributePrefix: 'CE_',
  contentTypeHeader: 'CE_contenttype',
};
const EVENT = { 'ce-specversion': '1.0', 'ce-id': 'e1', 'ce-type': 't', traceparent: 'tp', 'x-user': 'u' };

describe('CloudEvents wire bindings', () => {
  it('renames the attributes per binding and keeps other headers', () => {
    assert.deepEqual(cloudEventsWireHeaders(EVENT, 'application/json', KAFKA), {
      ce_specversion: '1.0',
      ce_id: 'e1',
      ce_type: 't',
      traceparent: 'tp',
      'x-user': 'u',
    });
    assert.deepEqual(cloudEventsWireHeaders(EVENT, 'application/json', AMQP), {
      'cloudEvents:specversion': '1.0',
      'cloudEvents:id': 'e1',
      'cloudEvents:type': 't',
      traceparent: 'tp',
      'x-user': 'u',
    });
    assert.equal(cloudEventsWireHeaders(EVENT, 'text/plain', ROCKETMQ).CE_contenttype, 'text/plain');
  });

  it('leaves a message that is not a CloudEvent (no ce-specversion) as it is', () => {
    const headers = { 'ce-type': 't', other: 'x' };
    assert.equal(cloudEventsWireHeaders(headers, 'application/json', KAFKA), headers);
  });

  it('withCloudEventsBinding binds what publish sends, and keeps every other member', async () => {
    let sent: readonly MessageEnvelope[] = [];
    const adapter = {
      kind: 'fake',
      target: 't',
      extra: 42,
      publish(batch: readonly MessageEnvelope[]): Promise<PublishResult[]> {
        sent = batch;
        return Promise.resolve([]);
      },
    } as unknown as BrokerAdapter & { extra: number };
    const bound = withCloudEventsBinding(adapter, KAFKA);
    assert.equal(bound.extra, 42);
    assert.equal(withCloudEventsBinding(adapter, { convention: 'http', attributePrefix: 'ce-' }), adapter);
    assert.equal(withCloudEventsBinding(adapter, undefined), adapter);
    const envelope = {
      id: 'e1',
      tenant: 'x',
      topic: 't',
      destination: 't',
      payload: new Uint8Array(),
      contentType: 'application/json',
      headers: EVENT,
      createdAt: 0,
    };
    await bound.publish([envelope], { signal: new AbortController().signal });
    assert.equal(sent[0]!.headers.ce_id, 'e1');
    assert.equal(envelope.headers['ce-id'], 'e1');
  });
});
