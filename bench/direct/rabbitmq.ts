import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { BenchTarget } from './types.js';

/** amqplib's confirm channel, persistent messages, mandatory: what the adapter does, by hand. */
export const rabbitmqBench: BenchTarget = {
  name: 'rabbitmq',
  config: 'deploy/config/rabbitmq.yaml',
  unreachableEnv: { RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:1' },
  brokers: ['rabbitmq'],
  destination: (topic) => topic,
  async prepare(topic) {
    // The gateway publishes with mandatory: a queue must be bound or every message is unroutable.
    const direct = rabbitmqBench.createDirect();
    await direct.open(topic);
    await direct.close();
  },
  createDirect() {
    let connection: ChannelModel;
    let channel: ConfirmChannel;
    let routingKey = '';
    const exchange = 'pubgate';
    return {
      async open(destination) {
        routingKey = destination;
        connection = await connect('amqp://guest:guest@127.0.0.1:5672');
        channel = await connection.createConfirmChannel();
        await channel.assertExchange(exchange, 'topic', { durable: true });
        const { queue } = await channel.assertQueue(`bench.${destination}`, {
          durable: true,
          arguments: { 'x-expires': 600_000 },
        });
        await channel.bindQueue(queue, exchange, destination);
      },
      send(payload, id) {
        return new Promise<void>((resolve, reject) => {
          channel.publish(
            exchange,
            routingKey,
            payload,
            { persistent: true, mandatory: true, messageId: id, contentType: 'application/json' },
            (error: unknown) =>
              error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
          );
        });
      },
      async close() {
        await channel.close();
        await connection.close();
      },
    };
  },
};
