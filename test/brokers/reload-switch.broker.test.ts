/**
 * Live reload switches brokers under load: a gateway process started on a copy of
 * deploy/config/kafka.yaml, under a steady publish load, gets the file overwritten with
 * deploy/config/rabbitmq.yaml. No request fails; receipts name Kafka before the switch and
 * RabbitMQ after it (a request sent after the first RabbitMQ answer is never Kafka's); and real
 * consumers of each broker find exactly the message ids whose receipts name that broker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { silentLogger, type DestinationReader } from '../../adapters/core/index.js';
import { createReader } from '../../adapters/registry.js';
import { ensureBrokers } from '../../deploy/local/brokers.js';
import { loadConfig } from '../../gateway/config/load.js';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KAFKA_YAML = path.join(root, 'deploy/config/kafka.yaml');
const RABBIT_YAML = path.join(root, 'deploy/config/rabbitmq.yaml');

const CLIENTS = 4;
const LOAD_MS = 10_000;
const SWITCH_AFTER_MS = 4_000;

interface Sent {
  client: number;
  id?: string;
  status: number;
  broker?: string;
  sentAt: number;
  answeredAt: number;
  body: string;
}

function brokerConfig(file: string) {
  const { config } = loadConfig({ argv: ['--config', file], env: {}, cwd: root });
  return Object.entries(config.brokers)[0]!;
}

describe('live reload: Kafka → RabbitMQ under load', () => {
  const topic = `reload.switch.${Date.now().toString(36)}${randomUUID().slice(0, 6)}`;
  const readerDeps = { logger: silentLogger, now: Date.now, baseDir: root };
  let rabbitReader: DestinationReader | undefined;
  let kafkaReader: DestinationReader | undefined;
  let gateway: GatewayProcess | undefined;

  before(async () => {
    await ensureBrokers(['kafka']);
    // RabbitMQ keeps only what reaches a queue: bind one to the topic before anything is published.
    const [target, config] = brokerConfig(RABBIT_YAML);
    rabbitReader = await createReader(target, config, { destination: topic }, readerDeps);
  });
  after(async () => {
    await gateway?.dispose();
    await rabbitReader?.close();
    await kafkaReader?.close();
  });

  it(
    'switches with no failed request, and each message is in the broker its receipt names',
    { timeout: 180_000 },
    async () => {
      gateway = await startGatewayProcess({}, { yamlText: readFileSync(KAFKA_YAML, 'utf8') });
      const file = path.join(gateway.dir, 'gateway.yaml');
      const url = gateway.url;
      const sent: Sent[] = [];
      const stopAt = Date.now() + LOAD_MS;
      let n = 0;

      async function client(index: number): Promise<void> {
        while (Date.now() < stopAt) {
          const sentAt = Date.now();
          const response = await fetch(`${url}/v1/topics/${topic}/messages`, {
            method: 'POST',
            headers: { authorization: 'Bearer dev-key', 'content-type': 'application/json' },
            body: JSON.stringify({ n: n++, client: index }),
          });
          const body = await response.text();
          const parsed =
            response.status === 201
              ? (JSON.parse(body) as { id: string; receipt: { broker: string } })
              : undefined;
          sent.push({
            client: index,
            status: response.status,
            sentAt,
            answeredAt: Date.now(),
            body,
            ...(parsed ? { id: parsed.id, broker: parsed.receipt.broker } : {}),
          });
        }
      }

      const switched = (async () => {
        await new Promise((resolve) => setTimeout(resolve, SWITCH_AFTER_MS));
        copyFileSync(RABBIT_YAML, file);
      })();
      await Promise.all([...Array.from({ length: CLIENTS }, (_, i) => client(i)), switched]);

      const failed = sent.filter((s) => s.status !== 201);
      assert.deepEqual(
        failed.map((s) => `${s.status} ${s.body}`),
        [],
        'every request was answered 201',
      );
      // (The access log scrolls the reload line out of the kept logs; the metric says it.)
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^pubgate_config_generation 2$/m, 'the reload was applied once');

      const kafkaIds = sent.filter((s) => s.broker === 'kafka').map((s) => s.id!);
      const rabbitIds = sent.filter((s) => s.broker === 'rabbitmq').map((s) => s.id!);
      assert.ok(
        kafkaIds.length > 0 && rabbitIds.length > 0,
        `kafka ${kafkaIds.length}, rabbitmq ${rabbitIds.length}`,
      );
      assert.equal(kafkaIds.length + rabbitIds.length, sent.length);

      // One flip per client (its requests are sequential): kafka…kafka rabbitmq…rabbitmq.
      for (let c = 0; c < CLIENTS; c++) {
        const order = sent.filter((s) => s.client === c).map((s) => s.broker);
        const firstRabbit = order.indexOf('rabbitmq');
        assert.ok(
          firstRabbit >= 0 && order.slice(firstRabbit).every((b) => b === 'rabbitmq'),
          `client ${c}: ${order.join(',')}`,
        );
      }
      // Globally: a request sent after any RabbitMQ receipt came back never lands on Kafka (the
      // swap is atomic; only requests already in flight at the switch finish on the old config).
      const firstRabbitAnswer = Math.min(
        ...sent.filter((s) => s.broker === 'rabbitmq').map((s) => s.answeredAt),
      );
      const late = sent.filter((s) => s.broker === 'kafka' && s.sentAt > firstRabbitAnswer);
      assert.deepEqual(late, [], 'no Kafka receipt for a request sent after the switch was visible');

      // Real consumers: each id is in the broker its receipt names, and only there.
      const [kafkaTarget, kafkaConfig] = brokerConfig(KAFKA_YAML);
      kafkaReader = await createReader(kafkaTarget, kafkaConfig, { destination: topic }, readerDeps);
      await kafkaReader.waitForCount(kafkaIds.length, 60_000);
      await rabbitReader!.waitForCount(rabbitIds.length, 60_000);
      await Promise.all([kafkaReader.waitForIdle(1_000, 5_000), rabbitReader!.waitForIdle(1_000, 5_000)]);
      const inKafka = new Set(kafkaReader.received().map((m) => m.id));
      const inRabbit = new Set(rabbitReader!.received().map((m) => m.id));
      assert.deepEqual(
        kafkaIds.filter((id) => !inKafka.has(id)),
        [],
        'lost from Kafka',
      );
      assert.deepEqual(
        rabbitIds.filter((id) => !inRabbit.has(id)),
        [],
        'lost from RabbitMQ',
      );
      assert.deepEqual(
        [...inKafka].filter((id) => !kafkaIds.includes(id)),
        [],
        'unexpected in Kafka',
      );
      assert.deepEqual(
        [...inRabbit].filter((id) => !rabbitIds.includes(id)),
        [],
        'unexpected in RabbitMQ',
      );
    },
  );
});
