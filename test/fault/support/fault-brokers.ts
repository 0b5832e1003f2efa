/**
 * What the fault scenarios need to know about each real broker, and nothing more: the scenarios
 * are written once and never branch on a broker's name.
 *
 * - `upstreamPort`: where the fault proxy forwards; `proxyPort`: the port it must listen on, when
 *   the broker tells clients where to reconnect (Kafka's advertised PROXIED listener).
 * - `target(endpoint)`: the gateway's broker target config, pointed at the proxy.
 * - `direct`: the same target pointed at the broker itself, for the reader (the verifier must not
 *   be cut off by the faults it checks).
 * - `prepare(destination)`: creates what must exist before publishing (a Kafka topic, a RocketMQ
 *   topic, a NATS stream); RabbitMQ needs a bound queue, which the reader declares when it starts.
 */
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import kafkajs from 'kafkajs';
import type { BrokerConfig } from '../../../adapters/registry.js';
import { kafkaConfigSchema } from '../../../adapters/kafka/config.js';
import { natsConfigSchema } from '../../../adapters/nats/config.js';
import { rabbitmqConfigSchema } from '../../../adapters/rabbitmq/config.js';
import { rocketMqConfigSchema } from '../../../adapters/rocketmq/config.js';
import { addressFor } from '../../../adapters/rocketmq/destination.js';
import {
  ADDRESSES,
  PORTS,
  createRocketTopic,
  ensureBrokers,
  portOpen,
  restartBroker,
  type BrokerName,
} from '../../../deploy/local/brokers.js';

export interface FaultBroker {
  /** The broker as deploy/local/brokers.ts names it (stop/start/freeze). */
  readonly name: BrokerName;
  readonly upstreamPort: number;
  readonly proxyPort?: number;
  /** The broker's own address, for a gateway without the fault proxy in between. */
  readonly endpoint: string;
  /** Brings the broker up as the suite needs it. */
  ensure(): Promise<void>;
  target(endpoint: string): Record<string, unknown>;
  readonly direct: BrokerConfig;
  prepare(destination: string): Promise<void>;
}

const HOST = '127.0.0.1';

const kafka: FaultBroker = {
  name: 'kafka',
  upstreamPort: PORTS.kafkaProxied,
  endpoint: ADDRESSES.kafka,
  proxyPort: PORTS.kafkaProxy,
  async ensure() {
    await ensureBrokers(['kafka']);
    // A Kafka started before the PROXIED listener existed: restart it once with the current config.
    if (!(await portOpen(PORTS.kafkaProxied))) await restartBroker('kafka');
  },
  target: (endpoint) => ({
    kind: 'kafka',
    brokers: [endpoint],
    clientId: 'pubgate-fault',
    reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
  }),
  direct: kafkaConfigSchema.parse({ kind: 'kafka', brokers: [ADDRESSES.kafka], clientId: 'pubgate-fault' }),
  async prepare(destination) {
    const admin = new kafkajs.Kafka({
      clientId: 'pubgate-fault-admin',
      brokers: [ADDRESSES.kafka],
      logLevel: kafkajs.logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: destination, numPartitions: 3, replicationFactor: 1 }],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
  },
};

const rabbitmq: FaultBroker = {
  name: 'rabbitmq',
  upstreamPort: PORTS.rabbitmq,
  endpoint: `${HOST}:${PORTS.rabbitmq}`,
  async ensure() {
    await ensureBrokers(['rabbitmq']);
  },
  target: (endpoint) => ({
    kind: 'rabbitmq',
    url: `amqp://guest:guest@${endpoint}`,
    exchange: 'pubgate.fault',
    exchangeType: 'topic',
    confirmTimeoutMs: 2_000,
    reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
  }),
  direct: rabbitmqConfigSchema.parse({
    kind: 'rabbitmq',
    url: ADDRESSES.rabbitmq,
    exchange: 'pubgate.fault',
    exchangeType: 'topic',
  }),
  async prepare() {
    // The reader's own queue, bound when it starts (before the load), keeps everything routed.
  },
};

const rocketmqDirect = rocketMqConfigSchema.parse({
  kind: 'rocketmq',
  endpoints: ADDRESSES.rocketmq,
  topicNameMapping: 'replace',
});

const rocketmq: FaultBroker = {
  name: 'rocketmq',
  upstreamPort: PORTS.rocketmqGrpc,
  endpoint: ADDRESSES.rocketmq,
  async ensure() {
    await ensureBrokers(['rocketmq']);
  },
  target: (endpoint) => ({
    kind: 'rocketmq',
    endpoints: endpoint,
    // Through the fault proxy: the local proxy advertises its own port, which would bypass ours.
    routeEndpoints: 'configured',
    topicNameMapping: 'replace',
    reconnectInitialDelayMs: 200,
    reconnectMaxDelayMs: 2000,
  }),
  direct: rocketmqDirect,
  async prepare(destination) {
    await createRocketTopic(addressFor(destination, rocketmqDirect).topic, { messageType: 'NORMAL' });
  },
};

/** Subjects of the fault runs, all bound by one stream (messages kept an hour). */
const NATS_FAULT_PREFIX = 'pubgate.fault.';

const nats: FaultBroker = {
  name: 'nats',
  upstreamPort: PORTS.nats,
  endpoint: `${HOST}:${PORTS.nats}`,
  async ensure() {
    await ensureBrokers(['nats']);
  },
  target: (endpoint) => ({
    kind: 'nats',
    servers: `nats://${endpoint}`,
    subjectPrefix: NATS_FAULT_PREFIX,
    publishTimeoutMs: 2_000,
    connectTimeoutMs: 2_000,
    pingIntervalMs: 2_000,
    reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
  }),
  direct: natsConfigSchema.parse({ kind: 'nats', servers: ADDRESSES.nats, subjectPrefix: NATS_FAULT_PREFIX }),
  async prepare() {
    // One stream binds every fault subject; adding it again with the same config is a no-op.
    const nc = await natsConnect({ servers: ADDRESSES.nats, reconnect: false });
    try {
      const jsm = await jetstreamManager(nc);
      const exists = await jsm.streams.info('PUBGATE_FAULT').then(
        () => true,
        () => false,
      );
      if (!exists) {
        await jsm.streams.add({
          name: 'PUBGATE_FAULT',
          subjects: [`${NATS_FAULT_PREFIX}>`],
          storage: StorageType.File,
          max_age: 3600 * 1e9,
        });
      }
    } finally {
      await nc.close();
    }
  },
};

/** Every broker the fault suite runs against; PUBGATE_FAULT_BROKERS=kafka,rabbitmq narrows it. */
export function faultBrokers(): FaultBroker[] {
  const all = [kafka, rabbitmq, rocketmq, nats];
  const only = process.env.PUBGATE_FAULT_BROKERS?.split(',').filter(Boolean);
  return only && only.length > 0 ? all.filter((b) => only.includes(b.name)) : all;
}

export const PROXY_HOST = HOST;
