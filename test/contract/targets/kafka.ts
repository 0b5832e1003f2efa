/**
 * Contract target for the Kafka adapter, against the project's local Kafka (deploy/local/brokers.ts).
 *
 * - Every destination is a new topic `pubgate.contract.<run id>.d<n>`, created with 3 partitions
 *   before use, so the per-key ordering case spreads its keys over several partitions.
 * - The consumer is a real kafkajs consumer in its own consumer group, reading from the beginning.
 *   createConsumer() resolves only once the group has joined and partitions are assigned, so the
 *   suite neither misses early messages nor waits for a slow first fetch. It drops redeliveries by
 *   message id (after the broker restart case an uncommitted offset can deliver a message again).
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import kafkajs from 'kafkajs';
import type { Admin, Consumer, IHeaders, ISocketFactory } from 'kafkajs';
import { fromWireHeaders, silentLogger, type BrokerAdapter } from '../../../adapters/core/index.js';
import { kafkaConfigSchema } from '../../../adapters/kafka/config.js';
import { createKafkaAdapter, type KafkaAdapter } from '../../../adapters/kafka/kafka-adapter.js';
import { ensureBrokers, restartBroker } from '../../../deploy/local/brokers.js';
import type { ConsumedMessage, ContractTarget, TestConsumer } from '../target.js';

const { Kafka, logLevel } = kafkajs;

/** The local Kafka (see BROKERS.md); PUBGATE_TEST_KAFKA_BROKERS (comma-separated) points the tests elsewhere. */
export const KAFKA_TEST_BROKERS = (process.env.PUBGATE_TEST_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

/** Partitions of every test topic: more than one, so per-key order is tested across partitions. */
export const TEST_TOPIC_PARTITIONS = 3;

/** Longest wait for a new consumer group to join and get its partitions. */
const JOIN_TIMEOUT_MS = 30_000;

export interface KafkaTargetOptions {
  readonly brokers?: readonly string[];
}

export function createKafkaTarget(options: KafkaTargetOptions = {}): ContractTarget {
  const brokers = [...(options.brokers ?? KAFKA_TEST_BROKERS)];
  const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const kafka = new Kafka({ clientId: `pubgate-contract-${runId}`, brokers, logLevel: logLevel.NOTHING });
  let admin: Admin | undefined;
  let adapters = 0;
  let destinations = 0;
  const consumers = new Set<TestConsumer>();

  return {
    name: 'kafka',

    async setup() {
      await ensureBrokers(['kafka']);
      admin = kafka.admin();
      await admin.connect();
    },

    createAdapter(): BrokerAdapter {
      adapters++;
      return createKafkaTestAdapter(`kafka-contract-${runId}-${adapters}`, { brokers });
    },

    async freshDestination() {
      destinations++;
      const topic = `pubgate.contract.${runId}.d${destinations}`;
      await createTestTopic(admin ?? failNoSetup(), topic);
      return topic;
    },

    async createConsumer(_adapter: BrokerAdapter, destination: string): Promise<TestConsumer> {
      const consumer = await createKafkaTestConsumer({ brokers, topic: destination });
      consumers.add(consumer);
      return {
        receive: (count, timeoutMs) => consumer.receive(count, timeoutMs),
        async close() {
          consumers.delete(consumer);
          await consumer.close();
        },
      };
    },

    async restartBroker() {
      await restartBroker('kafka');
    },

    async teardown() {
      for (const consumer of [...consumers]) await consumer.close().catch(() => {});
      consumers.clear();
      // Test topics stay: deleting them costs the broker more than the few KiB they hold.
      await admin?.disconnect().catch(() => {});
      admin = undefined;
    },
  };
}

function failNoSetup(): never {
  throw new Error('kafka contract target: setup() was not called');
}

/** An adapter for the tests, with a short reconnect backoff so the restart case recovers quickly. */
export function createKafkaTestAdapter(
  target: string,
  options: { brokers?: readonly string[]; config?: Record<string, unknown> } = {},
): KafkaAdapter {
  const config = kafkaConfigSchema.parse({
    kind: 'kafka',
    brokers: [...(options.brokers ?? KAFKA_TEST_BROKERS)],
    clientId: 'pubgate-test',
    reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
    ...options.config,
  });
  return createKafkaAdapter(target, config, { logger: silentLogger });
}

/** Creates a topic with TEST_TOPIC_PARTITIONS partitions and waits until every partition has a leader. */
export async function createTestTopic(
  admin: Admin,
  topic: string,
  partitions = TEST_TOPIC_PARTITIONS,
): Promise<void> {
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
}

/** A message as the test consumer saw it, with where Kafka stored it. */
export interface KafkaConsumedMessage extends ConsumedMessage {
  readonly partition: number;
  readonly offset: string;
}

export interface KafkaTestConsumer extends TestConsumer {
  receive(count: number, timeoutMs: number): Promise<KafkaConsumedMessage[]>;
}

/**
 * A real kafkajs consumer of one topic in a fresh consumer group, from the beginning. Resolves
 * once the group has joined and its partitions are assigned.
 */
export async function createKafkaTestConsumer(options: {
  brokers?: readonly string[];
  topic: string;
}): Promise<KafkaTestConsumer> {
  const brokers = [...(options.brokers ?? KAFKA_TEST_BROKERS)];
  // kafkajs's consumer can reopen a connection for a heartbeat that races its disconnect(), which
  // then keeps the test process alive until the broker drops the idle connection (10 minutes); its
  // sockets are tracked and closed on close (see endSockets).
  const sockets = new Set<net.Socket>();
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };
  const kafka = new Kafka({
    clientId: 'pubgate-test-consumer',
    brokers,
    logLevel: logLevel.NOTHING,
    socketFactory,
    // Generous retries: the consumer must outlive the broker restart case (several seconds down).
    retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  const consumer: Consumer = kafka.consumer({
    groupId: `pubgate-test-${randomUUID()}`,
    // Short heartbeats and session: a restart rebalances quickly; no other member ever joins.
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 500,
  });
  const received: KafkaConsumedMessage[] = [];
  const seen = new Set<string>();
  let notify: (() => void) | undefined;
  let crashed: Error | undefined;
  let closed = false;

  let joined!: () => void;
  const hasJoined = new Promise<void>((resolve) => (joined = resolve));
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const assignment = event.payload.memberAssignment[options.topic];
    if (assignment && assignment.length > 0) joined();
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) {
      crashed = event.payload.error;
      notify?.();
    }
  });

  await consumer.connect();
  await consumer.subscribe({ topic: options.topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const decoded = fromWireHeaders(stringHeaders(message.headers));
      const id = decoded.id;
      if (seen.has(id)) return;
      seen.add(id);
      received.push({
        id,
        ...(decoded.key !== undefined ? { key: decoded.key } : {}),
        contentType: decoded.contentType,
        headers: decoded.headers,
        payload: new Uint8Array(message.value ?? Buffer.alloc(0)),
        partition,
        offset: message.offset,
      });
      notify?.();
    },
  });

  let joinTimer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      hasJoined,
      new Promise<never>((_, reject) => {
        joinTimer = setTimeout(
          () =>
            reject(
              new Error(
                `test consumer of ${options.topic} did not join its group within ${JOIN_TIMEOUT_MS} ms`,
              ),
            ),
          JOIN_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    await consumer.disconnect().catch(() => {});
    await endSockets(sockets);
    throw error;
  } finally {
    clearTimeout(joinTimer);
  }

  return {
    receive(count: number, timeoutMs: number): Promise<KafkaConsumedMessage[]> {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (crashed) {
            clearTimeout(timer);
            notify = undefined;
            reject(new Error(`test consumer of ${options.topic} crashed: ${crashed.message}`));
            return true;
          }
          if (received.length < count) return false;
          clearTimeout(timer);
          notify = undefined;
          resolve(received.slice(0, count));
          return true;
        };
        const timer = setTimeout(() => {
          notify = undefined;
          reject(
            new Error(
              `received ${received.length} of ${count} messages from ${options.topic} within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        if (!check()) notify = () => void check();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      // Bounded: a kafkajs consumer caught mid-rebalance can take its whole session timeout to leave.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        consumer.disconnect().catch(() => {}),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, 15_000))),
      ]);
      clearTimeout(timer);
      await endSockets(sockets);
    },
  };
}

/**
 * Half-closes sockets kafkajs left open. Not destroy(): kafkajs learns of a closed connection only
 * from the socket's 'end' event, which the broker's answering FIN triggers; a destroyed socket
 * leaves kafkajs believing it is connected, with its request-timeout timers running forever.
 */
async function endSockets(sockets: Set<net.Socket>): Promise<void> {
  const open = [...sockets].filter((socket) => !socket.destroyed);
  await Promise.all(
    open.map(
      (socket) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000);
          socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          socket.end();
          socket.unref();
        }),
    ),
  );
}

function stringHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}
