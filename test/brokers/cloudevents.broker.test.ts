/**
 * CloudEvents through the gateway to real Kafka and RabbitMQ (their example configs), consumed
 * directly with the broker's own client and decoded with that broker's CloudEvents binding:
 * Kafka with the CloudEvents SDK's Kafka binding (Kafka.toEvent: `ce_*` headers, `content-type`);
 * RabbitMQ by reading the AMQP binding's `cloudEvents:*` application properties (headers of AMQP
 * 0-9-1) and the content-type property — the JavaScript SDK has no AMQP binding. Either way the
 * same event comes back: id, source, type, subject, extensions (traceparent included) and data.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import amqp from 'amqplib';
import { CloudEvent, HTTP, Kafka, type KafkaMessage } from 'cloudevents';
import { Kafka as KafkaClient, logLevel } from 'kafkajs';
import { ADDRESSES, ensureBrokers } from '../../deploy/local/brokers.js';
import { KAFKA_TEST_BROKERS } from '../contract/targets/kafka.js';
import { startExampleGateway, type ExampleGateway } from '../support/gateway.js';

const AUTH = { authorization: 'Bearer dev-key' };

function sampleEvents(): CloudEvent<unknown>[] {
  const common = {
    source: '/orders/service',
    type: 'com.example.order.created',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    region: 'eu1',
    // Explicit: the SDK's HTTP.binary sends application/json; charset=utf-8 for an event without one.
    datacontenttype: 'application/json',
  };
  return [
    new CloudEvent<unknown>({ ...common, id: `bin-${randomUUID()}`, subject: 'binary', data: { order: 1 } }),
    new CloudEvent<unknown>({
      ...common,
      id: `str-${randomUUID()}`,
      subject: 'structured',
      data: { order: 2 },
    }),
    new CloudEvent({
      ...common,
      id: `bat-${randomUUID()}`,
      subject: 'batch',
      datacontenttype: 'text/plain',
      data: 'three',
    }),
  ];
}

/** Sends the events: the first binary, the second structured, the third in a batch. */
async function sendEvents(url: string, topic: string, events: CloudEvent<unknown>[]): Promise<void> {
  const [binary, structured, batched] = events;
  const requests = [
    HTTP.binary(binary!),
    HTTP.structured(structured!),
    { headers: { 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify([batched]) },
  ];
  for (const message of requests) {
    const res = await fetch(`${url}/v1/topics/${topic}/messages`, {
      method: 'POST',
      headers: { ...AUTH, ...(message.headers as Record<string, string>) },
      body: message.body as string,
    });
    assert.equal(res.status, 201, await res.text());
  }
}

function assertSame(back: CloudEvent<unknown>, sent: CloudEvent<unknown>): void {
  assert.equal(back.id, sent.id);
  assert.equal(back.specversion, '1.0');
  assert.equal(back.source, sent.source);
  assert.equal(back.type, sent.type);
  assert.equal(back.subject, sent.subject);
  assert.equal(back.time, sent.time);
  assert.equal(back.region, 'eu1');
  assert.equal(back.traceparent, sent.traceparent);
  assert.equal(back.datacontenttype, sent.datacontenttype);
  assert.deepEqual(back.data, sent.data);
}

describe('CloudEvents on real brokers, read back with their bindings', () => {
  describe('kafka (CloudEvents SDK Kafka binding)', () => {
    let gw: ExampleGateway;
    before(async () => {
      await ensureBrokers(['kafka']);
      gw = await startExampleGateway('kafka.yaml');
    });
    after(() => gw?.stop());

    it('Kafka.toEvent reads each event back unchanged from ce_ headers', async () => {
      const topic = `ce.kafka.${process.pid}.${Date.now()}`;
      const client = new KafkaClient({
        clientId: 'pubgate-ce-test',
        brokers: [...KAFKA_TEST_BROKERS],
        logLevel: logLevel.NOTHING,
      });
      const admin = client.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      });
      await admin.disconnect();
      const events = sampleEvents();
      await sendEvents(gw.url, topic, events);

      const consumer = client.consumer({ groupId: `pubgate-ce-${randomUUID()}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received: CloudEvent<unknown>[] = [];
      const rawHeaders: Record<string, string>[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${received.length} of 3 events within 30 s`)),
          30_000,
        );
        void consumer.run({
          eachMessage: async ({ message }) => {
            const headers = Object.fromEntries(
              Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]),
            );
            rawHeaders.push(headers);
            const kafkaMessage: KafkaMessage = {
              key: message.key?.toString() ?? '',
              value: message.value!.toString('utf8'),
              headers,
              body: message.value!.toString('utf8'),
              timestamp: message.timestamp,
            };
            received.push(Kafka.toEvent(kafkaMessage) as CloudEvent<unknown>);
            if (received.length === 3) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      await consumer.disconnect();
      for (const headers of rawHeaders) {
        assert.equal(headers.ce_specversion, '1.0');
        assert.equal(headers['ce-id'], undefined, 'attributes travel as ce_ headers on Kafka');
        assert.equal(headers['pubgate-id'], headers.ce_id);
      }
      events.forEach((sent, i) => assertSame(received[i]!, sent));
    });
  });

  describe('rabbitmq (AMQP binding: cloudEvents: application properties)', () => {
    let gw: ExampleGateway;
    before(async () => {
      await ensureBrokers(['rabbitmq']);
      gw = await startExampleGateway('rabbitmq.yaml');
    });
    after(() => gw?.stop());

    it('reads each event back unchanged from cloudEvents:-prefixed properties', async () => {
      const topic = `ce.rabbit.${process.pid}.${Date.now()}`;
      const connection = await amqp.connect(ADDRESSES.rabbitmq);
      try {
        const channel = await connection.createChannel();
        await channel.assertExchange('pubgate', 'topic', { durable: true });
        const { queue } = await channel.assertQueue('', { exclusive: true });
        await channel.bindQueue(queue, 'pubgate', topic);
        const events = sampleEvents();
        await sendEvents(gw.url, topic, events);
        const received: CloudEvent<unknown>[] = [];
        for (let attempt = 0; received.length < 3 && attempt < 100; attempt++) {
          const message = await channel.get(queue, { noAck: true });
          if (message === false) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            continue;
          }
          const headers = message.properties.headers ?? {};
          const attributes: Record<string, unknown> = {};
          for (const [name, value] of Object.entries(headers)) {
            if (name.startsWith('cloudEvents:'))
              attributes[name.slice('cloudEvents:'.length)] = String(value);
          }
          assert.equal(headers['ce-id'], undefined, 'attributes travel as cloudEvents: properties on AMQP');
          assert.equal(message.properties.messageId, attributes.id);
          const contentType = String(message.properties.contentType);
          const text = message.content.toString('utf8');
          received.push(
            new CloudEvent(
              {
                ...attributes,
                datacontenttype: contentType,
                data: contentType.startsWith('application/json') ? JSON.parse(text) : text,
              },
              false,
            ),
          );
        }
        assert.equal(received.length, 3);
        events.forEach((sent, i) => assertSame(received[i]!, sent));
      } finally {
        await connection.close();
      }
    });
  });
});
