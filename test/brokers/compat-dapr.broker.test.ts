/**
 * The unchanged `@dapr/dapr` DaprClient publishing through pubgate to real Kafka and RabbitMQ:
 * `publish` and `publishBulk`, read back with each broker's reader (id, payload bytes, content
 * type, key). Needs Kafka (started by the project) and the machine's RabbitMQ. Run under
 * `flock /tmp/pubgate-brokers.lock` like every broker suite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CommunicationProtocolEnum, DaprClient, LogLevel } from '@dapr/dapr';
import { ADDRESSES } from '../../deploy/local/brokers.js';
import type { ConsumedMessage } from '../contract/target.js';
import { createKafkaTarget } from '../contract/targets/kafka.js';
import { createRabbitMqTestConsumer, deleteExchange } from '../contract/targets/rabbitmq.js';
import { DEV_KEY, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';

const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const exchange = `pubgate-dapr-${run}`;
const rabbitTopic = `dapr.rabbit.${run}`;

describe('Dapr SDK through pubgate to Kafka and RabbitMQ', { concurrency: false }, () => {
  const kafka = createKafkaTarget();
  let kafkaTopic: string;
  let gw: TestGateway;
  let client: DaprClient;

  before(async () => {
    await kafka.setup();
    kafkaTopic = await kafka.freshDestination();
    gw = await startGateway(
      embeddedConfig({
        brokers: {
          kafka: { kind: 'kafka', brokers: [ADDRESSES.kafka], clientId: `pubgate-dapr-${run}` },
          rabbit: { kind: 'rabbitmq', url: ADDRESSES.rabbitmq, exchange, exchangeType: 'topic' },
        },
        routes: [
          { topic: kafkaTopic, target: 'kafka' },
          { topic: '**', target: 'rabbit' },
        ],
      }),
    );
    const url = new URL(gw.url);
    client = new DaprClient({
      daprHost: `${url.protocol}//${url.hostname}`,
      daprPort: url.port,
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      daprApiToken: DEV_KEY,
      logger: { level: LogLevel.Error },
    });
  });

  after(async () => {
    await client?.stop();
    await gw?.stop();
    await kafka.teardown();
    await deleteExchange(ADDRESSES.rabbitmq, exchange);
  });

  async function publishAll(topic: string): Promise<void> {
    assert.deepEqual(await client.pubsub.publish('pubsub', topic, { orderId: 1 }), {});
    assert.deepEqual(
      await client.pubsub.publish('pubsub', topic, 'raw bytes', {
        contentType: 'text/plain',
        metadata: { rawPayload: 'true', partitionKey: 'p1' },
      }),
      {},
    );
    const bulk = await client.pubsub.publishBulk('pubsub', topic, [
      'one',
      { entryID: 'two', event: { n: 2 }, contentType: 'application/json' },
    ]);
    assert.deepEqual(bulk.failedMessages, []);
  }

  function check(messages: ConsumedMessage[]): void {
    assert.equal(messages.length, 4);
    const [json, raw, one, two] = messages;
    const text = (m: ConsumedMessage) => Buffer.from(m.payload).toString('utf8');
    assert.equal(json!.contentType, 'application/cloudevents+json');
    const event = JSON.parse(text(json!)) as Record<string, unknown>;
    assert.equal(event.id, json!.id);
    assert.ok(text(json!).endsWith(',"data":{"orderId":1}}'));
    assert.equal(raw!.contentType, 'text/plain');
    assert.equal(text(raw!), 'raw bytes');
    assert.equal(raw!.key, 'p1');
    assert.equal((JSON.parse(text(one!)) as { data: unknown }).data, 'one');
    assert.deepEqual((JSON.parse(text(two!)) as { data: unknown }).data, { n: 2 });
    for (const m of [one!, two!]) assert.equal((JSON.parse(text(m)) as { id: string }).id, m.id);
  }

  it('Kafka: every message arrives with its CloudEvent id, bytes and content type', async () => {
    const consumer = await kafka.createConsumer(undefined as never, kafkaTopic);
    try {
      await publishAll(kafkaTopic);
      const received = await consumer.receive(4, 60_000);
      // Keyed and keyless messages may sit in different partitions: order by what was sent.
      const order = (m: ConsumedMessage) => {
        const body = Buffer.from(m.payload).toString('utf8');
        return body.includes('orderId') ? 0 : body === 'raw bytes' ? 1 : body.includes('"one"') ? 2 : 3;
      };
      check(received.sort((a, b) => order(a) - order(b)));
    } finally {
      await consumer.close();
    }
  });

  it('RabbitMQ: every message arrives with its CloudEvent id, bytes and content type', async () => {
    const consumer = await createRabbitMqTestConsumer({
      url: ADDRESSES.rabbitmq,
      exchange,
      routingKey: rabbitTopic,
    });
    try {
      await publishAll(rabbitTopic);
      check(await consumer.receive(4, 60_000));
    } finally {
      await consumer.close();
    }
  });
});
