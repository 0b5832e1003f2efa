import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cloudEventsFormat,
  parseEventBatch,
  parseStructuredEvent,
  percentDecode,
  readBinaryEvent,
  structuredEvent,
} from './cloudevents.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const codeOf = (result: { error: { code: string } } | object) =>
  'error' in result ? (result as { error: { code: string } }).error.code : 'ok';

describe('CloudEvents parsing', () => {
  it('tells the event format by Content-Type prefix (HTTP binding §3)', () => {
    assert.equal(cloudEventsFormat('application/cloudevents+json; charset=utf-8'), 'structured');
    assert.equal(cloudEventsFormat('Application/CloudEvents-Batch+json'), 'batch');
    assert.equal(cloudEventsFormat('application/json'), undefined);
    assert.equal(cloudEventsFormat(undefined), undefined);
  });

  it('structured: keeps the exact data text, attributes as canonical strings', () => {
    const body = bytes(
      ' {"specversion":"1.0","id":"e1","source":"/s","type":"t","flag":true,"n":7,"data": {"big":12345678901234567890} } ',
    );
    const parsed = parseStructuredEvent(body, 32);
    assert.ok('value' in parsed);
    const event = parsed.value;
    assert.equal(event.id, 'e1');
    assert.equal(Buffer.from(event.payload).toString(), '{"big":12345678901234567890}');
    assert.equal(event.contentType, 'application/json');
    assert.deepEqual(Object.fromEntries(event.attributes), {
      specversion: '1.0',
      id: 'e1',
      source: '/s',
      type: 't',
      flag: 'true',
      n: '7',
    });
    assert.equal(Buffer.from(event.structured!).toString(), body.toString().trim());
  });

  it('structured: data_base64 decoded; text data as UTF-8; no data is an empty payload', () => {
    const base = '"specversion":"1.0","id":"e1","source":"s","type":"t"';
    const b64 = parseStructuredEvent(bytes(`{${base},"data_base64":"AAH/"}`), 32);
    assert.ok('value' in b64);
    assert.deepEqual([...b64.value.payload], [0, 1, 255]);
    assert.equal(b64.value.contentType, 'application/octet-stream');
    const text = parseStructuredEvent(bytes(`{${base},"datacontenttype":"text/plain","data":"é"}`), 32);
    assert.ok('value' in text);
    assert.equal(Buffer.from(text.value.payload).toString(), 'é');
    const none = parseStructuredEvent(bytes(`{${base}}`), 32);
    assert.ok('value' in none);
    assert.equal(none.value.payload.length, 0);
  });

  for (const [label, body, code] of [
    ['missing specversion', '{"id":"a","source":"s","type":"t"}', 'GW_ERR_INVALID_CLOUDEVENT'],
    [
      'specversion 0.3',
      '{"specversion":"0.3","id":"a","source":"s","type":"t"}',
      'GW_ERR_INVALID_CLOUDEVENT',
    ],
    ['numeric id', '{"specversion":"1.0","id":1,"source":"s","type":"t"}', 'GW_ERR_INVALID_CLOUDEVENT'],
    ['empty source', '{"specversion":"1.0","id":"a","source":"","type":"t"}', 'GW_ERR_INVALID_CLOUDEVENT'],
    [
      'bad time',
      '{"specversion":"1.0","id":"a","source":"s","type":"t","time":"yesterday"}',
      'GW_ERR_INVALID_CLOUDEVENT',
    ],
    [
      'float extension',
      '{"specversion":"1.0","id":"a","source":"s","type":"t","x":1.5}',
      'GW_ERR_INVALID_CLOUDEVENT',
    ],
    [
      'bad name',
      '{"specversion":"1.0","id":"a","source":"s","type":"t","my_ext":"x"}',
      'GW_ERR_INVALID_CLOUDEVENT',
    ],
    [
      'id outside the message id alphabet',
      '{"specversion":"1.0","id":"a/b","source":"s","type":"t"}',
      'GW_ERR_INVALID_MESSAGE_ID',
    ],
    [
      'object data with text type',
      '{"specversion":"1.0","id":"a","source":"s","type":"t","datacontenttype":"text/plain","data":{}}',
      'GW_ERR_INVALID_CLOUDEVENT',
    ],
    [
      'bad base64',
      '{"specversion":"1.0","id":"a","source":"s","type":"t","data_base64":"@@"}',
      'GW_ERR_INVALID_CLOUDEVENT',
    ],
    ['not JSON', '{"specversion":', 'GW_ERR_INVALID_JSON'],
  ] as const) {
    it(`structured: refuses ${label} (${code})`, () => {
      assert.equal(codeOf(parseStructuredEvent(bytes(body), 32)), code);
    });
  }

  it('batch: one result per event, errors in place', () => {
    const ok = '{"specversion":"1.0","id":"a","source":"s","type":"t","data":[1, 2]}';
    const parsed = parseEventBatch(bytes(`[${ok}, {"id":"b"}]`), 32, 10);
    assert.ok('value' in parsed);
    assert.equal(codeOf(parsed.value[0]!), 'ok');
    assert.equal(codeOf(parsed.value[1]!), 'GW_ERR_INVALID_CLOUDEVENT');
    assert.ok('value' in parsed.value[0]!);
    assert.equal(
      Buffer.from((parsed.value[0] as { value: { payload: Uint8Array } }).value.payload).toString(),
      '[1, 2]',
    );
    assert.equal(codeOf(parseEventBatch(bytes('[]'), 32, 10)), 'GW_ERR_INVALID_CLOUDEVENT');
    assert.equal(codeOf(parseEventBatch(bytes(`[${ok},${ok}]`), 32, 1)), 'GW_ERR_INVALID_CLOUDEVENT');
    assert.equal(codeOf(parseEventBatch(bytes(ok), 32, 10)), 'GW_ERR_INVALID_CLOUDEVENT');
  });

  it('binary: only with ce-id or ce-specversion; validated; values percent-decoded', () => {
    assert.equal(readBinaryEvent({ 'ce-type': 't' }, 'text/plain'), undefined);
    const read = readBinaryEvent(
      {
        'ce-id': 'a',
        'ce-specversion': '1.0',
        'ce-source': 's',
        'ce-type': 't',
        'ce-subject': '%E2%82%AC%20x',
        traceparent: 'tp',
      },
      'text/plain',
    );
    assert.ok(read && 'value' in read);
    assert.equal(read.value.attributes.get('subject'), '€ x');
    assert.equal(read.value.attributes.has('traceparent'), false);
    assert.equal(
      codeOf(readBinaryEvent({ 'ce-id': 'a', 'ce-specversion': '1.0', 'ce-source': 's' }, 'x/y')!),
      'GW_ERR_INVALID_CLOUDEVENT',
    );
    assert.equal(
      codeOf(
        readBinaryEvent(
          {
            'ce-id': 'a',
            'ce-specversion': '1.0',
            'ce-source': 's',
            'ce-type': 't',
            'ce-datacontenttype': 'a/b',
          },
          'x/y',
        )!,
      ),
      'GW_ERR_INVALID_CLOUDEVENT',
    );
  });

  it('percent-decoding refuses malformed escapes and invalid UTF-8', () => {
    assert.equal(percentDecode('plain'), 'plain');
    assert.equal(percentDecode('caf%C3%A9'), 'café');
    assert.equal(percentDecode('100%'), undefined);
    assert.equal(percentDecode('%zz'), undefined);
    assert.equal(percentDecode('%FF'), undefined);
    assert.equal(percentDecode('%ED%A0%80'), undefined);
    const lf = readBinaryEvent(
      { 'ce-id': 'a', 'ce-specversion': '1.0', 'ce-source': 's', 'ce-type': 't', 'ce-subject': 'a%0Ab' },
      'text/plain',
    );
    assert.equal(codeOf(lf!), 'GW_ERR_INVALID_CLOUDEVENT');
  });

  it('structured output of a binary event: JSON data inline, text as a string, bytes as data_base64', () => {
    const attributes = new Map([
      ['specversion', '1.0'],
      ['id', 'a'],
    ]);
    const json = structuredEvent({
      attributes,
      payload: bytes('{"x":1e999}'),
      contentType: 'application/json',
    });
    assert.equal(
      Buffer.from(json).toString(),
      '{"specversion":"1.0","id":"a","datacontenttype":"application/json","data":{"x":1e999}}',
    );
    const text = JSON.parse(
      Buffer.from(
        structuredEvent({ attributes, payload: bytes('hé'), contentType: 'text/plain' }),
      ).toString(),
    );
    assert.equal(text.data, 'hé');
    const binary = JSON.parse(
      Buffer.from(
        structuredEvent({
          attributes,
          payload: Uint8Array.from([255]),
          contentType: 'application/octet-stream',
        }),
      ).toString(),
    );
    assert.equal(binary.data_base64, '/w==');
  });
});
