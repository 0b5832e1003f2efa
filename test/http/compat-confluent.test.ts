/**
 * Confluent REST Proxy v2/v3 and Strimzi Kafka Bridge produce on the embedded broker: the request
 * shapes of the APIs' own docs (COMPAT.md §2, §4), their answers and error bodies, and the stored
 * messages read back (bytes, key, headers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';

const V2_ACCEPT = 'application/vnd.kafka.v2+json, application/vnd.kafka+json, application/json';

interface Stored {
  offset: string;
  id: string;
  key?: string;
  headers: Record<string, string>;
  contentType: string;
  value?: string;
  valueBase64?: string;
}

function config(patch: Record<string, unknown> = {}) {
  return embeddedConfig({
    tenants: {
      dev: { keys: ['dev-key'], topics: ['**'] },
      narrow: { keys: ['narrow-key'], topics: ['allowed.*'] },
    },
    ...patch,
  });
}

describe('Confluent REST Proxy and Strimzi bridge produce (embedded broker)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(config());
  });
  after(async () => {
    await gw.stop();
  });

  async function v2(
    path: string,
    contentType: string,
    body: string,
    headers: Record<string, string> = auth(),
  ): Promise<{ res: Response; text: string }> {
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': contentType, accept: V2_ACCEPT },
      body,
    });
    return { res, text: await res.text() };
  }

  async function v3(topic: string, body: string, headers: Record<string, string> = auth()) {
    const res = await fetch(`${gw.url}/v3/clusters/lkc-any/topics/${topic}/records`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
    });
    return { res, text: await res.text() };
  }

  async function stored(topic: string): Promise<Stored[]> {
    const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, { headers: auth() });
    assert.equal(res.status, 200);
    return ((await res.json()) as { messages: Stored[] }).messages;
  }

  /** The user headers of a stored message, pubgate's wire headers left out. */
  function userHeaders(message: Stored): Record<string, string> {
    return Object.fromEntries(
      Object.entries(message.headers).filter(([name]) => !['pubgate-seq', 'pubgate-producer'].includes(name)),
    );
  }

  it('v2 json: publishes the docs example, answers offsets, stores each value as the JSON text written', async () => {
    const body =
      '{"records":[{"key":"somekey","value":{"foo":"bar"}},{"value":[ "foo","bar" ],"partition":1},{"value":53.5}]}';
    const { res, text } = await v2('/topics/cf.json', 'application/vnd.kafka.json.v2+json', body);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.kafka.v2+json');
    assert.deepEqual(JSON.parse(text), {
      offsets: [
        { partition: 0, offset: 0, error_code: null, error: null },
        { partition: 0, offset: 1, error_code: null, error: null },
        { partition: 0, offset: 2, error_code: null, error: null },
      ],
      key_schema_id: null,
      value_schema_id: null,
    });
    const messages = await stored('cf.json');
    assert.deepEqual(
      messages.map((m) => [m.value, m.key, m.contentType]),
      [
        ['{"foo":"bar"}', '"somekey"', 'application/json'],
        ['[ "foo","bar" ]', undefined, 'application/json'],
        ['53.5', undefined, 'application/json'],
      ],
    );
    assert.equal(messages[1]!.headers['pubgate-partition'], '1');
    assert.equal(messages[0]!.headers['pubgate-partition'], undefined);
  });

  it('v2 binary (and the unspecific forms): base64 key and value stored as the decoded bytes', async () => {
    const value = Buffer.from([0, 1, 2, 255]).toString('base64');
    const key = Buffer.from('key-1').toString('base64');
    for (const contentType of [
      'application/vnd.kafka.binary.v2+json',
      'application/vnd.kafka.v2+json',
      'application/vnd.kafka+json',
      'application/json',
    ]) {
      const { res } = await v2(
        '/topics/cf.binary',
        contentType,
        JSON.stringify({ records: [{ key, value }] }),
      );
      assert.equal(res.status, 200, contentType);
    }
    const messages = await stored('cf.binary');
    assert.equal(messages.length, 4);
    for (const message of messages) {
      assert.equal(message.valueBase64, 'AAEC/w==');
      assert.equal(message.key, 'key-1');
      assert.equal(message.contentType, 'application/octet-stream');
    }
  });

  it('v2 partition path: the partition travels as pubgate-partition; a bad one is 40402', async () => {
    const { res, text } = await v2(
      '/topics/cf.part/partitions/3',
      'application/vnd.kafka.binary.v2+json',
      JSON.stringify({ records: [{ value: Buffer.from('x').toString('base64') }] }),
    );
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(text) as { offsets: unknown[] }).offsets.length, 1);
    const [message] = await stored('cf.part');
    assert.equal(message!.headers['pubgate-partition'], '3');
    const bad = await v2(
      '/topics/cf.part/partitions/abc',
      'application/vnd.kafka.binary.v2+json',
      JSON.stringify({ records: [{ value: 'eA==' }] }),
    );
    assert.equal(bad.res.status, 404);
    assert.deepEqual(JSON.parse(bad.text), { error_code: 40402, message: 'Partition not found.' });
  });

  it('v2 refuses a request with one bad record whole (422), and empty records', async () => {
    const { res, text } = await v2(
      '/topics/cf.atomic',
      'application/vnd.kafka.binary.v2+json',
      JSON.stringify({ records: [{ value: 'eA==' }, { value: 'not base64!' }] }),
    );
    assert.equal(res.status, 422);
    const error = JSON.parse(text) as { error_code: number; message: string };
    assert.equal(error.error_code, 422);
    assert.match(error.message, /records\[1\]/);
    assert.equal((await stored('cf.atomic')).length, 0);
    const empty = await v2('/topics/cf.atomic', 'application/vnd.kafka.json.v2+json', '{"records":[]}');
    assert.equal(empty.res.status, 422);
    assert.deepEqual(JSON.parse(empty.text), { error_code: 422, message: 'records may not be empty' });
  });

  it('schema-registry formats get the REST Proxy code 42206, in v2 and in a v3 report', async () => {
    for (const format of ['avro', 'protobuf', 'jsonschema']) {
      const { res, text } = await v2(
        '/topics/cf.schema',
        `application/vnd.kafka.${format}.v2+json`,
        '{"value_schema_id":32,"records":[{"value":{"a":1}}]}',
      );
      assert.equal(res.status, 422, format);
      const error = JSON.parse(text) as { error_code: number; message: string };
      assert.equal(error.error_code, 42206);
      assert.match(error.message, /Schema Registry/);
    }
    const { res, text } = await v3('cf.schema', '{"value":{"type":"AVRO","schema_id":1,"data":{"a":1}}}');
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(text) as { error_code: number }).error_code, 42206);
    assert.equal((await stored('cf.schema')).length, 0);
  });

  it('v3 single record: one delivery report with the cluster id, partition, offset and sizes', async () => {
    const { res, text } = await v3('cf.v3', '{"value":{"type":"JSON","data":{"name":"testUser"}}}');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const report = JSON.parse(text) as Record<string, unknown>;
    assert.equal(report.error_code, 200);
    assert.equal(report.cluster_id, 'pubgate');
    assert.equal(report.topic_name, 'cf.v3');
    assert.equal(report.partition_id, 0);
    assert.equal(report.offset, 0);
    assert.match(String(report.timestamp), /^\d{4}-\d\d-\d\dT/);
    assert.equal(report.key, null);
    assert.deepEqual(report.value, { type: 'JSON', size: 19 });
    const [message] = await stored('cf.v3');
    assert.equal(message!.value, '{"name":"testUser"}');
  });

  it('v3 streamed: one report per record in order; a bad record in the middle gets its own error', async () => {
    const records = [
      '{"key":{"type":"STRING","data":"k1"},"value":{"type":"JSON","data":{"n": 1.0}},' +
        '"headers":[{"name":"h1","value":"' +
        Buffer.from('v1').toString('base64') +
        '"}],"partition_id":2,"timestamp":"2023-03-09T14:07:23.592Z"}',
      '{"value":{"type":"BINARY","data":"not base64!"}}',
      '{"key":{"type":"BINARY","data":"' +
        Buffer.from('k3').toString('base64') +
        '"},"value":{"type":"BINARY","data":"AAEC/w=="}}',
      '{"value":{"type":"STRING","data":"plain text é"}}',
    ];
    const { res, text } = await v3('cf.stream', records.join(' \n'));
    assert.equal(res.status, 200);
    const reports = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(reports.length, 4);
    assert.deepEqual(
      reports.map((r) => [r.error_code, r.offset]),
      [
        [200, 0],
        [400, undefined],
        [200, 1],
        [200, 2],
      ],
    );
    assert.match(String(reports[1]!.message), /base64/);
    assert.deepEqual(reports[0]!.key, { type: 'STRING', size: 2 });
    assert.deepEqual(reports[2]!.value, { type: 'BINARY', size: 4 });

    const messages = await stored('cf.stream');
    assert.equal(messages.length, 3);
    assert.equal(messages[0]!.value, '{"n": 1.0}');
    assert.equal(messages[0]!.key, 'k1');
    assert.deepEqual(userHeaders(messages[0]!), {
      h1: 'v1',
      'pubgate-partition': '2',
      'pubgate-timestamp': String(Date.parse('2023-03-09T14:07:23.592Z')),
    });
    assert.equal(messages[1]!.valueBase64, 'AAEC/w==');
    assert.equal(messages[1]!.key, 'k3');
    assert.equal(messages[2]!.value, 'plain text é');
    assert.equal(messages[2]!.contentType, 'text/plain; charset=utf-8');
  });

  it('v3 with an Idempotency-Key: the same request is answered once and published once', async () => {
    const body = '{"value":{"type":"STRING","data":"once"}} {"value":{"type":"STRING","data":"twice"}}';
    const headers = { ...auth(), 'idempotency-key': 'cf-idem-1' };
    const first = await v3('cf.idem', body, headers);
    const second = await v3('cf.idem', body, headers);
    assert.equal(first.res.status, 200);
    assert.equal(second.res.status, 200);
    assert.equal(second.text, first.text);
    assert.equal(second.res.headers.get('idempotent-replayed'), 'true');
    assert.equal((await stored('cf.idem')).length, 2);
  });

  it('Strimzi: text format with {key, value} base64 headers answers the bridge offsets form', async () => {
    const body = JSON.stringify({
      records: [
        {
          key: 'my-key',
          value: 'sales-lead-0001',
          partition: 2,
          headers: [{ key: 'key1', value: Buffer.from('Apache Kafka Bridge').toString('base64') }],
        },
      ],
    });
    const { res, text } = await v2('/topics/cf.strimzi', 'application/vnd.kafka.text.v2+json', body);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(text), { offsets: [{ partition: 0, offset: 0 }] });
    const [message] = await stored('cf.strimzi');
    assert.equal(message!.value, 'sales-lead-0001');
    assert.equal(message!.key, 'my-key');
    assert.equal(message!.headers.key1, 'Apache Kafka Bridge');
    assert.equal(message!.headers['pubgate-partition'], '2');
  });

  it('Strimzi ?async=true: 204 without a body, the record stored', async () => {
    const body = JSON.stringify({ records: [{ value: { lead: 2 } }] });
    const { res, text } = await v2('/topics/cf.async?async=true', 'application/vnd.kafka.json.v2+json', body);
    assert.equal(res.status, 204);
    assert.equal(text, '');
    const [message] = await stored('cf.async');
    assert.equal(message!.value, '{"lead":2}');
  });

  it('401 and 403 in each API’s own error body, never problem+json', async () => {
    const record = JSON.stringify({ records: [{ value: 'eA==' }] });
    const v2Unauth = await v2('/topics/cf.auth', 'application/vnd.kafka.binary.v2+json', record, {});
    assert.equal(v2Unauth.res.status, 401);
    assert.equal(v2Unauth.res.headers.get('content-type'), 'application/vnd.kafka.v2+json');
    assert.equal((JSON.parse(v2Unauth.text) as { error_code: number }).error_code, 40101);

    const strimziUnauth = await v2(
      '/topics/cf.auth?async=false',
      'application/vnd.kafka.binary.v2+json',
      record,
      {
        authorization: 'Bearer wrong-key',
      },
    );
    assert.equal(strimziUnauth.res.status, 401);
    assert.equal((JSON.parse(strimziUnauth.text) as { error_code: number }).error_code, 401);

    const v3Unauth = await v3('cf.auth', '{"value":{"type":"STRING","data":"x"}}', {});
    assert.equal(v3Unauth.res.status, 401);
    assert.match(v3Unauth.res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal((JSON.parse(v3Unauth.text) as { error_code: number }).error_code, 40101);

    const v2Forbidden = await v2(
      '/topics/cf.auth',
      'application/vnd.kafka.binary.v2+json',
      record,
      auth('narrow-key'),
    );
    assert.equal(v2Forbidden.res.status, 403);
    assert.equal((JSON.parse(v2Forbidden.text) as { error_code: number }).error_code, 40301);
    const v3Forbidden = await v3('cf.auth', '{"value":{"type":"STRING","data":"x"}}', auth('narrow-key'));
    assert.equal(v3Forbidden.res.status, 403);
    assert.equal((JSON.parse(v3Forbidden.text) as { error_code: number }).error_code, 40301);

    // HTTP Basic with the API key as the password is accepted too.
    const basic = { authorization: `Basic ${Buffer.from('anyone:narrow-key').toString('base64')}` };
    const allowed = await v2('/topics/allowed.basic', 'application/vnd.kafka.binary.v2+json', record, basic);
    assert.equal(allowed.res.status, 200);
  });

  it('GET /v3/clusters lists the configured cluster id', async () => {
    const res = await fetch(`${gw.url}/v3/clusters`, { headers: auth() });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { data: Array<{ cluster_id: string }> };
    assert.equal(body.data[0]!.cluster_id, 'pubgate');
  });
});

describe('Confluent compatibility switched off', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(config({ compat: { confluent: { enabled: false } } }));
  });
  after(async () => {
    await gw.stop();
  });

  it('answers 404 on the v2 and v3 paths', async () => {
    for (const path of ['/topics/cf.off', '/v3/clusters/x/topics/cf.off/records']) {
      const res = await fetch(`${gw.url}${path}`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: '{"records":[{"value":"eA=="}]}',
      });
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
  });
});
