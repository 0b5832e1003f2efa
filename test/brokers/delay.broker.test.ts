/**
 * Delayed delivery in front of each real broker (deploy/config/<broker>.yaml, with its default
 * SQLite outbox): `Deliver-After: 3s` is answered 202 `scheduled`, a direct consumer of the broker
 * gets the message not before 3 s and within 4.5 s, and a cancelled one never arrives. Every broker
 * takes the emulated path (the gateway's outbox holds the message until it is due).
 *   flock /tmp/pubgate-brokers.lock node test/run.mjs test/brokers/delay.broker.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADDRESSES, type BrokerName } from '../../deploy/local/brokers.js';
import type { ContractTarget, TestConsumer } from '../contract/target.js';
import { createKafkaTarget } from '../contract/targets/kafka.js';
import { createRabbitMqTestConsumer, createRabbitMqTarget } from '../contract/targets/rabbitmq.js';
import { createRocketMqTarget } from '../contract/targets/rocketmq.js';
import { startExampleGateway, type ExampleGateway } from '../support/gateway.js';

const headers = { authorization: 'Bearer dev-key', 'content-type': 'application/json' };

interface BrokerCase {
  readonly broker: BrokerName;
  readonly target: ContractTarget;
  consumer(topic: string): Promise<TestConsumer>;
}

const CASES: BrokerCase[] = [
  (() => {
    const target = createKafkaTarget();
    return {
      broker: 'kafka' as const,
      target,
      consumer: (topic: string) => target.createConsumer(undefined as never, topic),
    };
  })(),
  {
    broker: 'rabbitmq',
    target: createRabbitMqTarget(),
    consumer: (topic) =>
      createRabbitMqTestConsumer({ url: ADDRESSES.rabbitmq, exchange: 'pubgate', routingKey: topic }),
  },
  (() => {
    const target = createRocketMqTarget();
    return {
      broker: 'rocketmq' as const,
      target,
      consumer: (topic: string) => target.createConsumer(undefined as never, topic),
    };
  })(),
];

async function publish(url: string, topic: string, body: unknown, extra: Record<string, string>) {
  const res = await fetch(`${url}/v1/topics/${topic}/messages`, {
    method: 'POST',
    headers: { ...headers, ...extra },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

async function messageStatus(url: string, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/v1/messages/${id}`, { headers });
  return (await res.json()) as Record<string, unknown>;
}

for (const testCase of CASES) {
  describe(`delayed delivery with deploy/config/${testCase.broker}.yaml`, { concurrency: false }, () => {
    let running: ExampleGateway | undefined;

    before(async () => {
      await testCase.target.setup();
      running = await startExampleGateway(`${testCase.broker}.yaml`);
    });

    after(async () => {
      await running?.stop();
      await testCase.target.teardown();
    });

    it('Deliver-After: 3s arrives not before 3 s and within 4.5 s; a cancelled one never arrives', async () => {
      const url = running!.url;
      const topic = await testCase.target.freshDestination();
      const consumer = await testCase.consumer(topic);
      try {
        const sent = Date.now();
        const kept = await publish(url, topic, { kept: true }, { 'deliver-after': '3s' });
        assert.equal(kept.res.status, 202, JSON.stringify(kept.json));
        assert.equal(kept.json.status, 'scheduled');
        assert.equal(kept.json.delay, 'emulated');
        const deliverAt = Date.parse(String(kept.json.deliverAt));
        const dropped = await publish(url, topic, { kept: false }, { 'deliver-after': '3s' });
        assert.equal(dropped.res.status, 202);
        const cancel = await fetch(`${url}/v1/messages/${String(dropped.json.id)}`, {
          method: 'DELETE',
          headers,
        });
        assert.equal(cancel.status, 200);
        assert.equal((await messageStatus(url, String(kept.json.id))).status, 'scheduled');

        const [message] = await consumer.receive(1, 4_500 - (Date.now() - sent));
        const seen = Date.now();
        assert.equal(message?.id, kept.json.id);
        assert.deepEqual(JSON.parse(Buffer.from(message!.payload).toString('utf8')), { kept: true });
        assert.ok(seen >= deliverAt, `arrived ${deliverAt - seen} ms early`);
        assert.ok(seen - sent <= 4_500, `arrived ${seen - sent} ms after the publish`);

        // The cancelled one never comes: still one message a while after its due time.
        await assert.rejects(consumer.receive(2, 1_500), /received 1 of 2/);
        const done = await messageStatus(url, String(kept.json.id));
        assert.equal(done.status, 'confirmed');
        assert.equal((done.receipt as Record<string, unknown>).broker, testCase.broker);
        assert.equal((await messageStatus(url, String(dropped.json.id))).status, 'cancelled');
        const late = await fetch(`${url}/v1/messages/${String(kept.json.id)}`, { method: 'DELETE', headers });
        assert.equal(late.status, 409);
      } finally {
        await consumer.close();
      }
    });
  });
}
