/**
 * The gateway in front of each real broker, started with the broker's example config
 * (deploy/config/<broker>.yaml) exactly as a user would: a publish answers 201 with that broker's
 * receipt and a direct consumer of the broker receives it with the same id and payload; with the
 * broker stopped, publishes fail fast with 503 + Retry-After, and succeed again once it is back,
 * without restarting the gateway.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADDRESSES, startBroker, stopBroker, type BrokerName } from '../../deploy/local/brokers.js';
import type { ContractTarget, TestConsumer } from '../contract/target.js';
import { createKafkaTarget } from '../contract/targets/kafka.js';
import { createNatsTarget } from '../contract/targets/nats.js';
import { createRabbitMqTestConsumer, createRabbitMqTarget } from '../contract/targets/rabbitmq.js';
import { createRocketMqTarget } from '../contract/targets/rocketmq.js';
import { startExampleGateway, type ExampleGateway } from '../support/gateway.js';

const headers = { authorization: 'Bearer dev-key', 'content-type': 'application/json' };

interface BrokerCase {
  readonly broker: BrokerName;
  /** Creates (where the broker needs it) a fresh topic and returns its name. */
  readonly target: ContractTarget;
  /** A direct consumer of what the example config publishes for `topic`. */
  consumer(topic: string): Promise<TestConsumer>;
  /** Checks the receipt names this broker the way its example promises. */
  checkReceipt(receipt: Record<string, unknown>): void;
  /**
   * Where the example config does not create destinations: a topic with none on the broker, and the
   * broker's name for it (the 404 names it).
   */
  readonly missing?: { readonly topic: string; readonly brokerName: string };
}

const CASES: BrokerCase[] = [
  (() => {
    const target = createKafkaTarget();
    return {
      broker: 'kafka' as const,
      target,
      consumer: (topic: string) => target.createConsumer(undefined as never, topic),
      checkReceipt(receipt: Record<string, unknown>) {
        assert.equal(receipt.broker, 'kafka');
        assert.equal(typeof receipt.partition, 'number');
        assert.match(String(receipt.offset), /^\d+$/);
      },
    };
  })(),
  {
    broker: 'rabbitmq',
    target: createRabbitMqTarget(),
    // The example publishes to the "pubgate" topic exchange with the topic as routing key.
    consumer: (topic) =>
      createRabbitMqTestConsumer({ url: ADDRESSES.rabbitmq, exchange: 'pubgate', routingKey: topic }),
    checkReceipt(receipt) {
      assert.equal(receipt.broker, 'rabbitmq');
      assert.equal(receipt.target, 'rabbit');
    },
  },
  (() => {
    const target = createRocketMqTarget();
    return {
      broker: 'rocketmq' as const,
      target,
      consumer: (topic: string) => target.createConsumer(undefined as never, topic),
      checkReceipt(receipt: Record<string, unknown>) {
        assert.equal(receipt.broker, 'rocketmq');
        assert.match(String(receipt.brokerMessageId), /^[0-9A-F]{16,}$/i);
      },
      // topicNameMapping: replace maps dots to underscores; nothing creates this topic.
      missing: { topic: `never.created.${process.pid}`, brokerName: `never_created_${process.pid}` },
    };
  })(),
  (() => {
    // The example publishes to subject "pubgate.<topic>"; the target's stream binds its fresh ones.
    const target = createNatsTarget({ subjectPrefix: 'pubgate.' });
    return {
      broker: 'nats' as const,
      target,
      consumer: (topic: string) => target.createConsumer(undefined as never, topic),
      checkReceipt(receipt: Record<string, unknown>) {
        assert.equal(receipt.broker, 'nats');
        assert.equal(receipt.target, 'nats');
        assert.match(String(receipt.offset), /^\d+$/);
        // "<stream>:<sequence>": the target's stream, and the same sequence as the offset.
        assert.match(
          String(receipt.brokerMessageId),
          new RegExp(`^PUBGATE_CONTRACT_[^:]+:${String(receipt.offset)}$`),
        );
      },
      // provision is off in the example: no stream binds this subject.
      missing: { topic: `never.created.${process.pid}`, brokerName: `pubgate.never.created.${process.pid}` },
    };
  })(),
];

async function publish(
  url: string,
  topic: string,
  body: unknown,
): Promise<{ res: Response; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/topics/${topic}/messages`, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

for (const testCase of CASES) {
  describe(`gateway with deploy/config/${testCase.broker}.yaml`, { concurrency: false }, () => {
    let url: string;
    let loaded: ExampleGateway['loaded'];
    let running: ExampleGateway | undefined;

    before(async () => {
      await testCase.target.setup();
      running = await startExampleGateway(`${testCase.broker}.yaml`);
      ({ url, loaded } = running);
    });

    after(async () => {
      await running?.stop();
      await testCase.target.teardown();
    });

    it("answers 201 with the broker's receipt, and a direct consumer gets the same id and payload", async () => {
      const topic = await testCase.target.freshDestination();
      const consumer = await testCase.consumer(topic);
      try {
        const body = { order: 42, note: 'through the gateway' };
        const { res, json } = await publish(url, topic, body);
        assert.equal(res.status, 201, JSON.stringify(json));
        testCase.checkReceipt(json.receipt as Record<string, unknown>);
        const [message] = await consumer.receive(1, 30_000);
        assert.equal(message?.id, json.id);
        assert.deepEqual(JSON.parse(Buffer.from(message!.payload).toString('utf8')), body);
        assert.equal(message?.contentType, 'application/json');
      } finally {
        await consumer.close();
      }
    });

    // Only where the example config does not create destinations (the others create them).
    const { missing } = testCase;
    if (missing)
      it('answers a topic with no destination on the broker with 404 GW_ERR_NO_DESTINATION, at once and every time', async () => {
        for (let attempt = 0; attempt < 2; attempt++) {
          const { res, json } = await publish(url, missing.topic, { order: attempt });
          assert.equal(res.status, 404, JSON.stringify(json));
          assert.match(String(res.headers.get('content-type')), /^application\/problem\+json/);
          assert.equal(json.code, 'GW_ERR_NO_DESTINATION');
          assert.equal(json.retriable, false);
          assert.equal(res.headers.get('retry-after'), null);
          assert.match(String(json.detail), new RegExp(missing.brokerName));
        }
      });

    it('fails fast with 503 + Retry-After (or spools with 202) while the broker is down, and recovers without a restart', async () => {
      const topic = await testCase.target.freshDestination();
      // What the example config tells its route to do when the broker fails: answer 503, or spool.
      const spools = loaded.config.routes.find((r) => r.topic === '**')?.degrade === 'spool';
      const consumer = await testCase.consumer(topic);
      const accepted: string[] = [];
      try {
        await stopBroker(testCase.broker);
        try {
          const started = performance.now();
          const down = await publish(url, topic, { during: 'outage' });
          const tookMs = performance.now() - started;
          if (spools) {
            assert.equal(down.res.status, 202, JSON.stringify(down.json));
            assert.equal(down.json.status, 'queued');
            accepted.push(String(down.json.id));
          } else {
            assert.equal(down.res.status, 503, JSON.stringify(down.json));
            assert.match(down.res.headers.get('retry-after') ?? '', /^\d+$/);
            assert.match(String(down.json.code), /^GW_ERR_BROKER_(UNAVAILABLE|TIMEOUT)$/);
          }
          // The publish deadline is 10 s; a known-down broker must be answered well before it.
          assert.ok(tookMs < 8_000, `the answer took ${Math.round(tookMs)} ms`);
        } finally {
          await startBroker(testCase.broker);
        }
        const deadline = Date.now() + 90_000;
        let last: { res: Response; json: Record<string, unknown> } | undefined;
        while (Date.now() < deadline) {
          last = await publish(url, topic, { after: 'restart' });
          if (last.res.status === 201) break;
          assert.equal(last.res.status, spools ? 202 : 503, JSON.stringify(last.json));
          if (last.res.status === 202) accepted.push(String(last.json.id));
          await new Promise((r) => setTimeout(r, 1_000));
        }
        assert.equal(last?.res.status, 201, `not recovered within 90 s: ${JSON.stringify(last?.json)}`);
        accepted.push(String(last!.json.id));
        // Every 2xx reaches the broker: the confirmed one, and the spooled ones once the relay ran.
        const received = await consumer.receive(accepted.length, 60_000);
        const ids = new Set(received.map((m) => m.id));
        for (const id of accepted) assert.ok(ids.has(id), `message ${id} was answered 2xx but not delivered`);
      } finally {
        await consumer.close();
      }
    });
  });
}
