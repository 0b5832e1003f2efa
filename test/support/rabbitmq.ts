/**
 * RabbitMQ helpers for broker tests that run a gateway on an example config: a channel for setup
 * (queues bound to the examples' `pubgate` exchange) and cleanup.
 */
import { connect, type Channel } from 'amqplib';
import { ADDRESSES } from '../../deploy/local/brokers.js';

/** Runs `fn` on a fresh channel of a fresh connection, closed afterwards. */
export async function withRabbitChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T> {
  const connection = await connect(ADDRESSES.rabbitmq);
  try {
    const channel = await connection.createChannel();
    return await fn(channel);
  } finally {
    await connection.close().catch(() => {});
  }
}

/** A durable queue on the examples' topic exchange, bound to each routing key (routable, survives a restart). */
export function bindExampleQueue(queue: string, routingKeys: readonly string[]): Promise<void> {
  return withRabbitChannel(async (channel) => {
    await channel.assertExchange('pubgate', 'topic', { durable: true, autoDelete: false });
    await channel.assertQueue(queue, { durable: true, autoDelete: false });
    for (const key of routingKeys) await channel.bindQueue(queue, 'pubgate', key);
  });
}
