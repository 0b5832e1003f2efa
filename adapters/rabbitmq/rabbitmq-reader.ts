/**
 * A real RabbitMQ consumer of one destination (routing key): a durable queue bound to the target's
 * exchange with the destination as binding key, read with manual acks. Used by the verifier and
 * the tests to read back what the gateway published.
 *
 * - RabbitMQ keeps a message only if a queue received it, so a queue must be bound BEFORE
 *   publishing. With `queue` given, that queue is consumed (declared durable and bound if missing;
 *   left in place on close). Without it, the reader declares its own queue (expiring after 30 min
 *   unused, deleted on close), which sees only what is published after the reader started.
 * - Reading consumes: each message is acked once received (like any consumer of the queue).
 * - Reconnects after a broker restart and consumes again; a message whose ack was lost in the
 *   restart arrives again and is reported again (redeliveries are kept, as in every reader).
 */
import { randomUUID } from 'node:crypto';
import { connect as amqpConnect, type ChannelModel } from 'amqplib';
import {
  createReadBuffer,
  readerOf,
  fromWireHeaders,
  type AdapterDeps,
  type DestinationReader,
  type ReaderOptions,
} from '../core/index.js';
import type { RabbitMqConfig } from './config.js';

/** Queues the reader creates for itself disappear after this long unused, even if it never closed. */
const OWN_QUEUE_EXPIRES_MS = 30 * 60_000;
const RECONNECT_DELAY_MS = 500;
const PREFETCH = 500;

export async function createRabbitMqReader(
  config: RabbitMqConfig,
  options: ReaderOptions,
  _deps: AdapterDeps,
): Promise<DestinationReader> {
  const ownQueue = options.queue === undefined;
  const queue = options.queue ?? `${config.exchange}.reader.${randomUUID().slice(0, 8)}`;
  const buffer = createReadBuffer(`rabbitmq reader of queue ${queue}`);
  let closed = false;
  let connection: ChannelModel | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;

  /** Declares and binds the queue unless it exists (re-declaring with other arguments would fail). */
  async function prepareQueue(model: ChannelModel): Promise<void> {
    const probe = await model.createChannel();
    probe.on('error', () => {});
    const exists = await probe.checkQueue(queue).then(
      () => true,
      () => false,
    );
    if (exists) {
      await probe.close().catch(() => {});
      return;
    }
    const channel = await model.createChannel();
    channel.on('error', () => {});
    if (config.declareExchange) {
      await channel.assertExchange(config.exchange, config.exchangeType, {
        durable: true,
        autoDelete: false,
      });
    }
    await channel.assertQueue(queue, {
      durable: true,
      ...(ownQueue ? { arguments: { 'x-expires': OWN_QUEUE_EXPIRES_MS } } : {}),
    });
    await channel.bindQueue(queue, config.exchange, options.destination);
    await channel.close().catch(() => {});
  }

  async function subscribe(): Promise<void> {
    const model = await amqpConnect(config.url);
    try {
      model.on('error', () => {}); // 'close' follows; handled there
      await prepareQueue(model);
      const channel = await model.createChannel();
      channel.on('error', () => {});
      await channel.prefetch(PREFETCH);
      await channel.consume(
        queue,
        (message) => {
          if (!message) return; // consumer cancelled by the broker (queue deleted)
          channel.ack(message);
          const wire = fromWireHeaders(stringHeaders(message.properties.headers));
          buffer.push({
            id: wire.id || String(message.properties.messageId ?? ''),
            tenant: wire.tenant,
            topic: wire.topic,
            ...(wire.key === undefined ? {} : { key: wire.key }),
            contentType: wire.contentType || String(message.properties.contentType ?? ''),
            headers: wire.headers,
            payload: new Uint8Array(message.content),
            ...(wire.seq === undefined ? {} : { seq: wire.seq }),
            ...(wire.producer === undefined ? {} : { producer: wire.producer }),
          });
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
    reconnectTimer.unref();
  }

  await subscribe();

  return readerOf(buffer, async () => {
    closed = true;
    if (reconnectTimer) clearTimeout(reconnectTimer);
    const model = connection ?? (ownQueue ? await amqpConnect(config.url).catch(() => undefined) : undefined);
    if (!model) return;
    try {
      if (ownQueue) {
        const channel = await model.createChannel();
        channel.on('error', () => {});
        await channel.deleteQueue(queue);
      }
    } catch {
      // x-expires removes it later
    } finally {
      await model.close().catch(() => {});
    }
  });
}

/** AMQP header values come back as strings, Buffers or numbers; wire headers are strings. */
function stringHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    out[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return out;
}
