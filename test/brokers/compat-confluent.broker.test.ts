/**
 * The compatible produce APIs in front of real brokers, each gateway started with the broker's
 * example config (deploy/config/<broker>.yaml):
 * - Kafka: the partitions and offsets the REST Proxy v2 and v3 answers report are where a real
 *   Kafka consumer (the kind's reader, adapters/registry.ts createReader) finds each record, with
 *   the same key and bytes.
 * - RabbitMQ: the management publish answers {"routed": true} after the confirm, and a queue bound
 *   to the routing key receives the message with its id, bytes and properties; a routing key no
 *   queue is bound for answers {"routed": false}.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { silentLogger, type DestinationReader } from '../../adapters/core/index.js';
import { createReader } from '../../adapters/registry.js';
import type { ContractTarget } from '../contract/target.js';
import { createKafkaTarget } from '../contract/targets/kafka.js';
import { startExampleGateway, type ExampleGateway } from '../support/gateway.js';

const readerDeps = { logger: silentLogger, now: Date.now };
const bearer = { authorization: 'Bearer dev-key' };

function readerFor(gateway: ExampleGateway, destination: string): Promise<DestinationReader> {
  const [target, config] = Object.entries(gateway.loaded.config.brokers)[0]!;
  return createReader(target, config, { destination }, { ...readerDeps, baseDir: gateway.dir });
}

describe('Confluent REST Proxy produce on Kafka: answered offsets are real', { concurrency: false }, () => {
  let kafka: ContractTarget;
  let gateway: ExampleGateway | undefined;
  let reader: DestinationReader | undefined;
  before(async () => {
    kafka = createKafkaTarget();
    await kafka.setup();
    gateway = await startExampleGateway('kafka.yaml');
  });
  after(async () => {
    await reader?.close();
    await gateway?.stop();
    await kafka.teardown();
  });

  it(
    'v2 binary and v3 streamed records are where their answers say, with their keys and bytes',
    { timeout: 120_000 },
    async () => {
      const topic = await kafka.freshDestination();
      reader = await readerFor(gateway!, topic);
      const keys = ['alpha', 'beta', 'gamma', 'delta'];
      const v2 = await fetch(`${gateway!.url}/topics/${topic}`, {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'application/vnd.kafka.binary.v2+json' },
        body: JSON.stringify({
          records: keys.map((key, i) => ({
            key: Buffer.from(key).toString('base64'),
            value: Buffer.from([i, 0xff, 0x00]).toString('base64'),
          })),
        }),
        signal: AbortSignal.timeout(30_000),
      });
      const v2Text = await v2.text();
      assert.equal(v2.status, 200, v2Text);
      const offsets = (
        JSON.parse(v2Text) as { offsets: Array<{ partition: number; offset: number; error_code: unknown }> }
      ).offsets;
      assert.equal(offsets.length, keys.length);

      const v3Records = [
        '{"key":{"type":"STRING","data":"alpha"},"value":{"type":"JSON","data":{"big":12345678901234567890}}}',
        '{"value":{"type":"BINARY","data":"not base64!"}}',
        '{"key":{"type":"STRING","data":"epsilon"},"value":{"type":"STRING","data":"text value"}}',
      ];
      const v3 = await fetch(`${gateway!.url}/v3/clusters/any/topics/${topic}/records`, {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: v3Records.join('\n'),
        signal: AbortSignal.timeout(30_000),
      });
      const v3Text = await v3.text();
      assert.equal(v3.status, 200, v3Text);
      const reports = v3Text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { error_code: number; partition_id: number; offset: number });
      assert.deepEqual(
        reports.map((r) => r.error_code),
        [200, 400, 200],
      );

      const expected = [
        ...keys.map((key, i) => ({
          key,
          payload: Buffer.from([i, 0xff, 0x00]),
          partition: offsets[i]!.partition,
          offset: offsets[i]!.offset,
        })),
        {
          key: 'alpha',
          payload: Buffer.from('{"big":12345678901234567890}'),
          partition: reports[0]!.partition_id,
          offset: reports[0]!.offset,
        },
        {
          key: 'epsilon',
          payload: Buffer.from('text value'),
          partition: reports[2]!.partition_id,
          offset: reports[2]!.offset,
        },
      ];
      for (const entry of expected) {
        assert.ok(entry.offset >= 0, `a real offset, got ${entry.offset}`);
        assert.ok(entry.partition >= 0 && entry.partition < 3, `a real partition, got ${entry.partition}`);
      }
      // Same key, same partition: the two "alpha" records, and their order.
      assert.equal(expected[4]!.partition, expected[0]!.partition);
      assert.ok(expected[4]!.offset > expected[0]!.offset);

      await reader.waitForCount(expected.length, 60_000);
      const seen = reader.received();
      for (const entry of expected) {
        const found = seen.find((m) => m.partition === entry.partition && m.offset === String(entry.offset));
        assert.ok(found, `no record at partition ${entry.partition} offset ${entry.offset}`);
        assert.equal(found.key, entry.key);
        assert.deepEqual(Buffer.from(found.payload), entry.payload);
      }
    },
  );
});

describe('RabbitMQ management publish on RabbitMQ: routed after the confirm', { concurrency: false }, () => {
  let gateway: ExampleGateway | undefined;
  let reader: DestinationReader | undefined;
  before(async () => {
    gateway = await startExampleGateway('rabbitmq.yaml');
  });
  after(async () => {
    await reader?.close();
    await gateway?.stop();
  });

  async function publish(body: unknown) {
    // The example's target exchange, "pubgate", is accepted with topic = routing key.
    const res = await fetch(`${gateway!.url}/api/exchanges/%2F/pubgate/publish`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('guest:dev-key').toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { res, json: (await res.json()) as Record<string, unknown> };
  }

  it(
    'a bound routing key: {"routed": true}, and the queue holds the message as sent',
    { timeout: 60_000 },
    async () => {
      const topic = `compat.rmq.${randomUUID().slice(0, 8)}`;
      // RabbitMQ keeps only what reaches a queue: the reader binds its queue before the publish.
      reader = await readerFor(gateway!, topic);
      const id = `rmq-${randomUUID().slice(0, 8)}`;
      const { res, json } = await publish({
        properties: {
          delivery_mode: 2,
          content_type: 'text/plain',
          message_id: id,
          correlation_id: 'corr-1',
        },
        routing_key: topic,
        payload: Buffer.from([0x68, 0x69, 0x00, 0xff]).toString('base64'),
        payload_encoding: 'base64',
      });
      assert.equal(res.status, 200, JSON.stringify(json));
      assert.deepEqual(json, { routed: true });
      await reader.waitForCount(1, 30_000);
      const [message] = reader.received();
      assert.equal(message!.id, id);
      assert.deepEqual(Buffer.from(message!.payload), Buffer.from([0x68, 0x69, 0x00, 0xff]));
      assert.equal(message!.contentType, 'text/plain');
      assert.equal(message!.headers['pubgate-amqp-correlation-id'], 'corr-1');
    },
  );

  it('a routing key no queue is bound for: {"routed": false}', { timeout: 60_000 }, async () => {
    const { res, json } = await publish({
      properties: {},
      routing_key: `compat.rmq.unbound.${randomUUID().slice(0, 8)}`,
      payload: 'nobody listens',
      payload_encoding: 'string',
    });
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.deepEqual(json, { routed: false });
  });
});
