/**
 * Contract target for the RabbitMQ adapter, against the machine's real RabbitMQ.
 *
 * - Each run publishes to its own topic exchange `pubgate.contract.<run id>`; each destination is a
 *   fresh routing key under it, so runs never see each other's messages (the broker is not clean).
 * - The consumer is a plain amqplib consumer: a durable queue bound to the exchange with exactly that
 *   routing key, declared before the suite publishes, read with manual acks. It reconnects by itself
 *   after the broker restart case, and drops redeliveries by message id (a message whose ack was lost
 *   in the restart comes again).
 * - Queues carry x-expires, so the broker deletes them even if a run dies before its teardown.
 */
import { randomUUID } from 'node:crypto';
import { connect as amqpConnect, type ChannelModel } from 'amqplib';
import { fromWireHeaders, silentLogger, type BrokerAdapter } from '../../../adapters/core/index.js';
import { rabbitmqConfigSchema } from '../../../adapters/rabbitmq/config.js';
import { createRabbitMqAdapter } from '../../../adapters/rabbitmq/rabbitmq-adapter.js';
import { ADDRESSES, ensureBrokers, restartBroker } from '../../../deploy/local/brokers.js';
import type { ConsumedMessage, ContractTarget, TestConsumer } from '../target.js';

/** Unused test queues disappear after this long even if teardown never ran. */
const QUEUE_EXPIRES_MS = 30 * 60_000;
const RECONNECT_DELAY_MS = 500;

export interface RabbitMqTargetOptions {
  readonly url?: string;
}

export function createRabbitMqTarget(options: RabbitMqTargetOptions = {}): ContractTarget {
  const url = options.url ?? ADDRESSES.rabbitmq;
  const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const exchange = `pubgate.contract.${runId}`;
  let adapters = 0;
  let destinations = 0;
  const consumers = new Set<TestConsumer>();

  return {
    name: 'rabbitmq',

    async setup() {
      await ensureBrokers(['rabbitmq']);
    },

    createAdapter(): BrokerAdapter {
      adapters++;
      const config = rabbitmqConfigSchema.parse({
        kind: 'rabbitmq',
        url,
        exchange,
        exchangeType: 'topic',
        connectionName: `pubgate-contract-${runId}-${adapters}`,
        // Short backoff so the restart case recovers quickly.
        reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
      });
      return createRabbitMqAdapter(`rabbit-contract-${adapters}`, config, { logger: silentLogger });
    },

    async freshDestination() {
      destinations++;
      return `contract.${runId}.d${destinations}`;
    },

    async createConsumer(_adapter: BrokerAdapter, destination: string): Promise<TestConsumer> {
      const consumer = await createRabbitMqTestConsumer({ url, exchange, routingKey: destination });
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
      await restartBroker('rabbitmq');
    },

    async teardown() {
      for (const consumer of [...consumers]) await consumer.close().catch(() => {});
      consumers.clear();
      await deleteExchange(url, exchange);
    },
  };
}

/** Deletes an exchange, quietly: teardown must not fail the run over a cleanup. */
export async function deleteExchange(url: string, exchange: string): Promise<void> {
  try {
    const connection = await amqpConnect(url);
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      await channel.deleteExchange(exchange);
    } finally {
      await connection.close().catch(() => {});
    }
  } catch {
    // nothing to do: the exchange stays (it is durable but holds no messages)
  }
}

export interface RabbitMqTestConsumerOptions {
  readonly url: string;
  readonly exchange: string;
  readonly routingKey: string;
  /** Declare the exchange if missing (topic, durable), as the adapter would. Default: true. */
  readonly declareExchange?: boolean;
}

/**
 * A real consumer of one routing key: a durable queue bound before anything is published. Survives
 * broker restarts by reconnecting and consuming again (the durable queue keeps what arrived meanwhile).
 */
export async function createRabbitMqTestConsumer(
  options: RabbitMqTestConsumerOptions,
): Promise<TestConsumer> {
  const queue = `${options.exchange}.q.${randomUUID().slice(0, 8)}`;
  const received: ConsumedMessage[] = [];
  const seen = new Set<string>();
  let notify: (() => void) | undefined;
  let closed = false;
  let connection: ChannelModel | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;

  async function subscribe(): Promise<void> {
    const model = await amqpConnect(options.url);
    try {
      model.on('error', () => {}); // 'close' follows; handled there
      const channel = await model.createChannel();
      channel.on('error', () => {});
      if (options.declareExchange ?? true) {
        await channel.assertExchange(options.exchange, 'topic', { durable: true, autoDelete: false });
      }
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-expires': QUEUE_EXPIRES_MS } });
      await channel.bindQueue(queue, options.exchange, options.routingKey);
      await channel.prefetch(500);
      await channel.consume(
        queue,
        (message) => {
          if (!message) return; // consumer cancelled by the broker (queue deleted)
          channel.ack(message);
          const wire = stringHeaders(message.properties.headers);
          const decoded = fromWireHeaders(wire);
          const id = decoded.id || String(message.properties.messageId ?? '');
          if (seen.has(id)) return; // a redelivery after a lost ack
          seen.add(id);
          received.push({
            id,
            ...(decoded.key === undefined ? {} : { key: decoded.key }),
            contentType: decoded.contentType || String(message.properties.contentType ?? ''),
            headers: decoded.headers,
            payload: new Uint8Array(message.content),
          });
          notify?.();
        },
        { noAck: false },
      );
    } catch (error) {
      await model.close().catch(() => {});
      throw error;
    }
    connection = model;
    model.on('close', () => {
      if (connection === model) connection = undefined;
      if (!closed) scheduleReconnect();
    });
  }

  function scheduleReconnect(): void {
    if (closed || reconnectTimer) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      subscribe().catch(() => scheduleReconnect());
    }, RECONNECT_DELAY_MS);
  }

  await subscribe();

  return {
    async receive(count: number, timeoutMs: number): Promise<ConsumedMessage[]> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `rabbitmq consumer of ${options.routingKey}: ${received.length} of ${count} messages arrived within ${timeoutMs} ms`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          notify = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        notify = undefined;
      }
      return received.splice(0, count);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const model = connection ?? (await amqpConnect(options.url).catch(() => undefined));
      if (!model) return;
      try {
        const channel = await model.createChannel();
        channel.on('error', () => {});
        await channel.deleteQueue(queue);
      } catch {
        // x-expires removes it later
      } finally {
        await model.close().catch(() => {});
      }
    },
  };
}

/** AMQP header values come back as strings, Buffers or numbers; the envelope's headers are strings. */
function stringHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    out[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return out;
}
