import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCloudEvent, metadataFromQuery, readMetadata, wrapInCloudEvent } from './cloudevent.js';
import type { DaprError } from './errors.js';
import { daprErrorOf } from './errors.js';
import { eventSpans } from './event-spans.js';
import { GatewayError } from '../../errors/registry.js';

const KEYS = ['partitionKey', 'routingKey'];

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as DaprError).errorCode;
  }
  return 'none';
}

describe('Dapr metadata', () => {
  it('reads metadata.* and cloudevent.* query parameters, ignoring others', () => {
    const metadata = metadataFromQuery({
      'metadata.rawPayload': 'True',
      'metadata.ttlInSeconds': '30',
      'metadata.partitionKey': 'k',
      'metadata.cloudevent.id': 'a',
      'cloudevent.source': 's',
      other: 'x',
    });
    assert.deepEqual(readMetadata(metadata, KEYS), {
      rawPayload: true,
      ttlSeconds: 30,
      key: 'k',
      overrides: { id: 'a', source: 's' },
    });
  });

  it('refuses values Dapr cannot deserialize', () => {
    assert.equal(
      code(() => readMetadata({ rawPayload: '100' }, KEYS)),
      'ERR_PUBSUB_REQUEST_METADATA',
    );
    assert.equal(
      code(() => readMetadata({ ttlInSeconds: '-1' }, KEYS)),
      'ERR_PUBSUB_REQUEST_METADATA',
    );
    assert.equal(
      code(() => readMetadata({ partitionKey: 'a', routingKey: 'b' }, KEYS)),
      'ERR_PUBSUB_REQUEST_METADATA',
    );
    assert.equal(
      code(() => metadataFromQuery({ 'metadata.x': ['1', '2'] })),
      'ERR_PUBSUB_REQUEST_METADATA',
    );
  });
});

describe('Dapr CloudEvent envelope', () => {
  const base = {
    id: 'id-1',
    topic: 't',
    pubsubName: 'pubsub',
    source: 'app',
    now: Date.UTC(2024, 0, 1),
    metadata: readMetadata({}, KEYS),
  };

  it('splices JSON data in as sent, text as a string, binary as base64', () => {
    const json = wrapInCloudEvent({
      ...base,
      dataContentType: 'application/json',
      data: Buffer.from('{"big":12345678901234567890}'),
    }).toString();
    assert.equal(
      json,
      '{"specversion":"1.0","id":"id-1","source":"app","type":"com.dapr.event.sent","datacontenttype":"application/json","topic":"t","pubsubname":"pubsub","time":"2024-01-01T00:00:00.000Z","data":{"big":12345678901234567890}}',
    );
    const text = JSON.parse(
      wrapInCloudEvent({ ...base, dataContentType: 'text/plain', data: Buffer.from('a"b') }).toString(),
    ) as Record<string, unknown>;
    assert.equal(text.data, 'a"b');
    const notUtf8 = JSON.parse(
      wrapInCloudEvent({ ...base, dataContentType: 'text/plain', data: new Uint8Array([0xff]) }).toString(),
    ) as Record<string, unknown>;
    assert.equal(notUtf8.data_base64, '/w==');
  });

  it('applies overrides, trace context and TTL', () => {
    const event = JSON.parse(
      wrapInCloudEvent({
        ...base,
        dataContentType: 'text/plain',
        data: Buffer.from('x'),
        traceparent: 'tp',
        metadata: readMetadata(
          { ttlInSeconds: '5', 'cloudevent.type': 'my.type', 'cloudevent.subject': 's' },
          KEYS,
        ),
      }).toString(),
    ) as Record<string, unknown>;
    assert.equal(event.type, 'my.type');
    assert.equal(event.subject, 's');
    assert.equal(event.traceparent, 'tp');
    assert.equal(event.traceid, 'tp');
    assert.equal(event.expiration, '2024-01-01T00:00:05.000Z');
  });

  it('checks a client CloudEvent for its required attributes', () => {
    assert.deepEqual(checkCloudEvent({ id: 'x', source: 's', specversion: '1.0', type: 't' }), { id: 'x' });
    assert.equal(
      code(() => checkCloudEvent({ id: 'x' })),
      'ERR_PUBSUB_CLOUD_EVENTS_SER',
    );
    assert.equal(
      code(() => checkCloudEvent([])),
      'ERR_PUBSUB_CLOUD_EVENTS_SER',
    );
  });
});

describe('Dapr bulk event spans', () => {
  it('finds each entry’s event bytes, name matched without case', () => {
    const body = Buffer.from(
      ' [ {"entryId":"a","event": {"n":1e2, "s":"}\\""} ,"contentType":"application/json"}, {"Event":"x"}, 5, {} ] ',
    );
    const spans = eventSpans(body);
    assert.deepEqual(
      spans.map((s) => (s ? body.subarray(s.start, s.end).toString() : undefined)),
      ['{"n":1e2, "s":"}\\""}', '"x"', undefined, undefined],
    );
  });
});

describe('Dapr error mapping', () => {
  it('maps pubgate codes to Dapr codes, keeping status and Retry-After of a 503', () => {
    const forbidden = daprErrorOf(new GatewayError('GW_ERR_FORBIDDEN_TOPIC', 'no'));
    assert.deepEqual([forbidden.status, forbidden.errorCode], [403, 'ERR_PUBSUB_FORBIDDEN']);
    const down = daprErrorOf(new GatewayError('GW_ERR_BREAKER_OPEN', 'down', { retryAfterSeconds: 7 }));
    assert.deepEqual(
      [down.status, down.errorCode, down.retryAfterSeconds, down.reason],
      [503, 'ERR_PUBSUB_PUBLISH_MESSAGE', 7, 'GW_ERR_BREAKER_OPEN'],
    );
    const quota = daprErrorOf(new GatewayError('GW_ERR_QUOTA_EXCEEDED', 'slow down'));
    assert.deepEqual([quota.status, quota.errorCode], [429, 'ERR_PUBSUB_QUOTA_EXCEEDED']);
  });
});
