/**
 * Mirror mode across two vendors: a route with `mirror: {primary: kafka, secondaries: [rabbit]}`
 * answers 201 from Kafka, and real consumers of both brokers receive every message with the same
 * id. Needs Kafka (started by the project) and the machine's RabbitMQ; stops nothing. Run under
 * `flock /tmp/pubgate-brokers.lock` like every broker suite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADDRESSES } from '../../deploy/local/brokers.js';
import { createKafkaTarget } from '../contract/targets/kafka.js';
import { createRabbitMqTestConsumer, deleteExchange } from '../contract/targets/rabbitmq.js';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';

const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const exchange = `pubgate-mirror-${run}`;

describe('mirror: Kafka primary, RabbitMQ secondary', { concurrency: false }, () => {
  const kafka = createKafkaTarget();
  let gw: TestGateway;

  before(async () => {
    await kafka.setup();
    gw = await startGateway(
      embeddedConfig({
        brokers: {
          kafka: { kind: 'kafka', brokers: [ADDRESSES.kafka], clientId: `pubgate-mirror-${run}` },
          rabbit: { kind: 'rabbitmq', url: ADDRESSES.rabbitmq, exchange, exchangeType: 'topic' },
        },
        routes: [{ topic: '**', mirror: { primary: 'kafka', secondaries: ['rabbit'] } }],
      }),
    );
  });

  after(async () => {
    await gw?.stop();
    await kafka.teardown();
    await deleteExchange(ADDRESSES.rabbitmq, exchange);
  });

  it('each message lands in both brokers with the same id; the answer is Kafka’s receipt', async () => {
    const topic = await kafka.freshDestination();
    const kafkaConsumer = await kafka.createConsumer(undefined as never, topic);
    const rabbitConsumer = await createRabbitMqTestConsumer({
      url: ADDRESSES.rabbitmq,
      exchange,
      routingKey: topic,
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${gw.url}/v1/topics/${topic}/messages`, {
          method: 'POST',
          headers: { ...auth(), 'content-type': 'application/json' },
          body: JSON.stringify({ i }),
          signal: AbortSignal.timeout(30_000),
        });
        const json = (await res.json()) as { id: string; receipt: { broker: string } };
        assert.equal(res.status, 201, JSON.stringify(json));
        assert.equal(json.receipt.broker, 'kafka');
        ids.push(json.id);
      }
      const fromKafka = await kafkaConsumer.receive(ids.length, 60_000);
      const fromRabbit = await rabbitConsumer.receive(ids.length, 60_000);
      assert.deepEqual(fromKafka.map((m) => m.id).sort(), [...ids].sort());
      assert.deepEqual(fromRabbit.map((m) => m.id).sort(), [...ids].sort());
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(metrics, /^pubgate_mirror_publish_total\{target="rabbit",outcome="confirmed"\} 20$/m);
    } finally {
      await kafkaConsumer.close();
      await rabbitConsumer.close();
    }
  });
});
