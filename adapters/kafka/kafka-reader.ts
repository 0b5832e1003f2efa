/**
 * A real Kafka consumer of one topic, from the beginning: a kafkajs consumer in its own consumer
 * group (a new unique one unless `group` is given). Used by the verifier and the tests to read back
 * what the gateway published.
 *
 * - createKafkaReader resolves only once the group has joined and its partitions are assigned, so
 *   a caller that publishes afterwards misses nothing and a caller reading back waits for no slow
 *   first fetch.
 * - Redeliveries are kept (offsets are committed lazily; after a broker restart a message may come
 *   again): the reader reports what arrived; deduplicating by id is the caller's choice.
 * - Generous retries, so the consumer outlives a broker restart of several seconds. A consumer that
 *   crashes for good makes the waits reject.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import kafkajs from 'kafkajs';
import type { Consumer, IHeaders, ISocketFactory, SASLOptions } from 'kafkajs';
import {
  createReadBuffer,
  readerOf,
  fromWireHeaders,
  type AdapterDeps,
  type DestinationReader,
  type ReaderOptions,
} from '../core/index.js';
import type { KafkaConfig } from './config.js';

const { Kafka, logLevel } = kafkajs;

/** Longest wait for a new consumer group to join and get its partitions. */
const JOIN_TIMEOUT_MS = 30_000;
/** Bound on disconnect: a consumer caught mid-rebalance can take its whole session timeout to leave. */
const CLOSE_TIMEOUT_MS = 15_000;

export async function createKafkaReader(
  config: KafkaConfig,
  options: ReaderOptions,
  _deps: AdapterDeps,
): Promise<DestinationReader> {
  const topic = options.destination;
  const buffer = createReadBuffer(`kafka reader of ${topic}`);
  // kafkajs's consumer can reopen a connection for a heartbeat that races its disconnect(), which
  // then keeps the process alive until the broker drops the idle connection (10 minutes); its
  // sockets are tracked and ended on close (see endSockets).
  const sockets = new Set<net.Socket>();
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };
  const kafka = new Kafka({
    clientId: `${config.clientId}-reader`,
    brokers: [...config.brokers],
    ssl: config.ssl,
    ...(config.sasl ? { sasl: { ...config.sasl } as SASLOptions } : {}),
    logLevel: logLevel.NOTHING,
    socketFactory,
    retry: { retries: 30, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  const consumer: Consumer = kafka.consumer({
    groupId: options.group ?? `pubgate-reader-${randomUUID()}`,
    // Short heartbeats and session: a broker restart rebalances quickly; no other member joins.
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 500,
  });

  let joined!: () => void;
  const hasJoined = new Promise<void>((resolve) => (joined = resolve));
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const assignment = event.payload.memberAssignment[topic];
    if (assignment && assignment.length > 0) joined();
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) buffer.fail(event.payload.error);
  });

  const reader = readerOf(buffer, async () => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      consumer.disconnect().catch(() => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    await endSockets(sockets);
  });

  let joinTimer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const wire = fromWireHeaders(stringHeaders(message.headers));
        buffer.push({
          id: wire.id,
          tenant: wire.tenant,
          topic: wire.topic,
          ...(wire.key === undefined ? {} : { key: wire.key }),
          contentType: wire.contentType,
          headers: wire.headers,
          payload: new Uint8Array(message.value ?? Buffer.alloc(0)),
          ...(wire.seq === undefined ? {} : { seq: wire.seq }),
          ...(wire.producer === undefined ? {} : { producer: wire.producer }),
          partition,
          offset: message.offset,
        });
      },
    });
    await Promise.race([
      hasJoined,
      new Promise<never>((_, reject) => {
        joinTimer = setTimeout(
          () =>
            reject(new Error(`kafka reader of ${topic} did not join its group within ${JOIN_TIMEOUT_MS} ms`)),
          JOIN_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    await reader.close();
    throw error;
  } finally {
    clearTimeout(joinTimer);
  }

  return reader;
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
