/**
 * Contract target for the RabbitMQ adapter, against the machine's real RabbitMQ.
 *
 * - Each run publishes to its own topic exchange `pubgate.contract.<run id>`; each destination is a
 *   fresh routing key under it, so runs never see each other's messages (the broker is not clean).
 * - The consumer is the RabbitMQ reader (adapters/rabbitmq/rabbitmq-reader.ts): a durable queue of
 *   its own bound to the exchange with exactly that routing key, declared before the suite
 *   publishes, read with manual acks. It reconnects by itself after the broker restart case;
 *   redeliveries are dropped by message id (a message whose ack was lost in the restart comes again).
 * - Its queues carry x-expires, so the broker deletes them even if a run dies before its teardown.
 */
import { randomUUID } from 'node:crypto';
import { connect as amqpConnect } from 'amqplib';
import { silentLogger, type BrokerAdapter } from '../../../adapters/core/index.js';
import { rabbitmqConfigSchema } from '../../../adapters/rabbitmq/config.js';
import { createRabbitMqAdapter } from '../../../adapters/rabbitmq/rabbitmq-adapter.js';
import { createRabbitMqReader } from '../../../adapters/rabbitmq/rabbitmq-reader.js';
import { ADDRESSES, ensureBrokers, restartBroker } from '../../../deploy/local/brokers.js';
import { consumerFromReader } from '../reader-consumer.js';
import { consumerTracker, type ContractTarget, type TestConsumer } from '../target.js';

export interface RabbitMqTargetOptions {
  readonly url?: string;
}

export function createRabbitMqTarget(options: RabbitMqTargetOptions = {}): ContractTarget {
  const url = options.url ?? ADDRESSES.rabbitmq;
  const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const exchange = `pubgate.contract.${runId}`;
  let adapters = 0;
  let destinations = 0;
  const consumers = consumerTracker();

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
      return consumers.track(consumer);
    },

    async restartBroker() {
      await restartBroker('rabbitmq');
    },

    async teardown() {
      await consumers.closeAll();
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
 * The RabbitMQ reader (adapters/rabbitmq/rabbitmq-reader.ts) on a queue of its own bound to the
 * routing key before anything is published. Survives broker restarts (the durable queue keeps what
 * arrived meanwhile); redeliveries after a lost ack are dropped by id.
 */
export async function createRabbitMqTestConsumer(
  options: RabbitMqTestConsumerOptions,
): Promise<TestConsumer> {
  const config = rabbitmqConfigSchema.parse({
    kind: 'rabbitmq',
    url: options.url,
    exchange: options.exchange,
    exchangeType: 'topic',
    declareExchange: options.declareExchange ?? true,
  });
  const reader = await createRabbitMqReader(
    config,
    { destination: options.routingKey },
    { logger: silentLogger },
  );
  return consumerFromReader(reader, { dropRedeliveries: true });
}
