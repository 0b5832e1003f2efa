/**
 * The RabbitMQ adapter against the machine's real RabbitMQ (the address deploy/local/brokers.ts
 * provisions). Cases the shared contract suite does not cover: unroutable messages, pipelining under
 * concurrency, fail-fast while the broker is stopped, and a disk alarm. Every exchange and queue is unique to the run and deleted afterwards.
 *
 * The stop/start and disk-alarm cases disturb the shared broker for a few seconds; they restore it in
 * `finally` blocks.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect as amqpConnect, type ChannelModel, type Options } from 'amqplib';
import { ADDRESSES, ensureBrokers, startBroker, stopBroker } from '../../deploy/local/brokers.js';
import type { AdapterError } from '../core/index.js';
import { publishSettled, silentLogger, type MessageEnvelope, type PublishResult } from '../core/index.js';
import { rabbitmqConfigSchema } from './config.js';
import {
  createRabbitMqAdapter,
  type AmqpChannel,
  type AmqpConnection,
  type AmqpSocketOptions,
} from './rabbitmq-adapter.js';

const URL = ADDRESSES.rabbitmq;
const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
const exec = promisify(execFile);

function exchangeName(what: string): string {
  return `pubgate.broker-test.${runId}.${what}`;
}

function adapterFor(
  exchange: string,
  overrides: Record<string, unknown> = {},
  connect?: typeof pipelineProbe.connect,
) {
  const config = rabbitmqConfigSchema.parse({
    kind: 'rabbitmq',
    url: URL,
    exchange,
    reconnect: { initialDelayMs: 200, maxDelayMs: 1000 },
    ...overrides,
  });
  return createRabbitMqAdapter(
    `rabbit-broker-test`,
    config,
    { logger: silentLogger },
    connect ? { connect } : {},
  );
}

function envelope(destination: string): MessageEnvelope {
  return {
    id: randomUUID(),
    tenant: 'broker-test',
    topic: destination,
    destination,
    payload: new TextEncoder().encode('{"ok":true}'),
    contentType: 'application/json',
    headers: {},
    createdAt: Date.now(),
  };
}

function signal(ms = 15_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

function errorOf(result: PublishResult | undefined): AdapterError {
  assert.ok(result && !result.ok, `expected a failure, got ${JSON.stringify(result)}`);
  return result.error;
}

const exchanges = new Set<string>();
const queues = new Set<string>();

/** A short-lived admin connection (a long-lived one would not survive the broker restart case). */
async function withChannel<T>(
  work: (channel: Awaited<ReturnType<ChannelModel['createChannel']>>) => Promise<T>,
): Promise<T> {
  const model = await amqpConnect(URL);
  model.on('error', () => {});
  try {
    const channel = await model.createChannel();
    channel.on('error', () => {});
    return await work(channel);
  } finally {
    await model.close().catch(() => {});
  }
}

/** A durable queue bound to `exchange` with `routingKey`, so messages with that key are routable. */
async function bindQueue(exchange: string, routingKey: string): Promise<string> {
  const queue = `${exchange}.q.${randomUUID().slice(0, 8)}`;
  queues.add(queue);
  exchanges.add(exchange);
  await withChannel(async (channel) => {
    await channel.assertExchange(exchange, 'topic', { durable: true, autoDelete: false });
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-expires': 30 * 60_000 } });
    await channel.bindQueue(queue, exchange, routingKey);
  });
  return queue;
}

async function messageCount(queue: string): Promise<number> {
  return withChannel(async (channel) => (await channel.checkQueue(queue)).messageCount);
}

/**
 * Wraps the real amqplib connect to watch the confirm channel: counts messages written and not yet
 * acked, and keeps the highest count seen. More than 1 proves confirms are pipelined.
 */
const pipelineProbe = {
  outstanding: new Set<number>(),
  maxOutstanding: 0,
  async connect(url: string, socketOptions: AmqpSocketOptions): Promise<AmqpConnection> {
    const model = await amqpConnect(url, socketOptions);
    const createConfirmChannel = model.createConfirmChannel.bind(model);
    return Object.assign(model, {
      async createConfirmChannel() {
        const channel = await createConfirmChannel();
        let tag = 0;
        const publish = channel.publish.bind(channel);
        channel.on('ack', ({ deliveryTag, multiple }: { deliveryTag: number; multiple: boolean }) => {
          for (const t of [...pipelineProbe.outstanding])
            if (t === deliveryTag || (multiple && t <= deliveryTag)) pipelineProbe.outstanding.delete(t);
        });
        return Object.assign(channel, {
          publish(exchange: string, routingKey: string, content: Buffer, options?: Options.Publish) {
            const flushed = publish(exchange, routingKey, content, options);
            pipelineProbe.outstanding.add(++tag);
            pipelineProbe.maxOutstanding = Math.max(
              pipelineProbe.maxOutstanding,
              pipelineProbe.outstanding.size,
            );
            return flushed;
          },
        }) as AmqpChannel;
      },
    }) as unknown as AmqpConnection;
  },
};

describe('rabbitmq adapter against the real broker', { concurrency: false }, () => {
  before(async () => {
    await ensureBrokers(['rabbitmq']);
  });

  after(async () => {
    await withChannel(async (channel) => {
      for (const queue of queues) await channel.deleteQueue(queue);
      for (const exchange of exchanges) await channel.deleteExchange(exchange);
    }).catch(() => {});
  });

  it('never confirms a message no queue is bound to receive (ADP_ERR_UNROUTABLE)', async () => {
    const exchange = exchangeName('unroutable');
    exchanges.add(exchange);
    const adapter = adapterFor(exchange);
    try {
      await adapter.connect(signal());
      // The exchange exists (the adapter declared it) but nothing is bound to it.
      const lonely = await adapter.publish([envelope('nobody.home'), envelope('nobody.home')], {
        signal: signal(),
      });
      for (const result of lonely) {
        const error = errorOf(result);
        assert.equal(error.code, 'ADP_ERR_UNROUTABLE');
        assert.equal(error.retriable, false);
      }
      // In one batch, the bound key is confirmed and the unbound one is not.
      const queue = await bindQueue(exchange, 'someone.home');
      const [routed, unroutable] = await adapter.publish(
        [envelope('someone.home'), envelope('nobody.home')],
        { signal: signal() },
      );
      assert.equal(routed?.ok, true);
      assert.equal(errorOf(unroutable).code, 'ADP_ERR_UNROUTABLE');
      assert.equal(await messageCount(queue), 1);
    } finally {
      await adapter.close();
    }
  });

  it('pipelines 500 concurrent single-message publishes, all confirmed', async (t) => {
    const exchange = exchangeName('pipeline');
    const queue = await bindQueue(exchange, 'load');
    const adapter = adapterFor(exchange, {}, pipelineProbe.connect);
    try {
      await adapter.connect(signal());
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: 500 }, () => adapter.publish([envelope('load')], { signal: signal(30_000) })),
      );
      const elapsed = performance.now() - started;
      const failures = results.flat().filter((r) => !r.ok);
      assert.deepEqual(failures, [], 'every message must be confirmed');
      assert.ok(
        pipelineProbe.maxOutstanding > 1,
        `confirms were not pipelined (max in flight ${pipelineProbe.maxOutstanding})`,
      );
      assert.equal(await messageCount(queue), 500);
      t.diagnostic(
        `500 concurrent publishes confirmed in ${elapsed.toFixed(0)} ms; max unconfirmed at once: ${pipelineProbe.maxOutstanding}`,
      );
    } finally {
      await adapter.close();
    }
  });

  it('fails fast with a retriable error while RabbitMQ is stopped, and publishes again after it restarts', async (t) => {
    const exchange = exchangeName('outage');
    const queue = await bindQueue(exchange, 'outage');
    const confirmTimeoutMs = 10_000;
    const adapter = adapterFor(exchange, { confirmTimeoutMs });
    let stopped = false;
    try {
      await adapter.connect(signal());
      assert.equal((await adapter.publish([envelope('outage')], { signal: signal() }))[0]?.ok, true);

      await stopBroker('rabbitmq', { abort: signal(120_000) });
      stopped = true;
      // The first attempts may land while the adapter is still noticing the close; every one must
      // still come back fast and retriable.
      const timings: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const [result] = await publishSettled(adapter, [envelope('outage')], {
          signal: signal(confirmTimeoutMs * 2),
        });
        timings.push(performance.now() - started);
        const error = errorOf(result);
        assert.equal(error.retriable, true, `${error.code} must be retriable`);
        assert.ok(['ADP_ERR_UNAVAILABLE', 'ADP_ERR_CONNECTION_LOST'].includes(error.code), error.code);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const slowest = Math.max(...timings);
      assert.ok(
        slowest < 1000,
        `publish while stopped took ${slowest.toFixed(0)} ms (confirm timeout ${confirmTimeoutMs} ms)`,
      );
      assert.equal((await adapter.health()).ok, false);
      t.diagnostic(`publish while RabbitMQ is stopped failed in at most ${slowest.toFixed(1)} ms`);

      await startBroker('rabbitmq');
      stopped = false;
      // Same adapter, no reconnect call: it recovers in the background.
      const deadline = Date.now() + 60_000;
      let last: PublishResult | undefined;
      while (Date.now() < deadline) {
        [last] = await publishSettled(adapter, [envelope('outage')], { signal: signal() });
        if (last?.ok) break;
        assert.equal(last?.error.retriable, true);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.equal(
        last?.ok,
        true,
        `no successful publish after the restart: ${last && !last.ok ? last.error.code : ''}`,
      );
      assert.equal((await adapter.health()).ok, true);
      // The message from before the outage (durable queue, persistent message) plus the one after.
      assert.equal(await messageCount(queue), 2);
    } finally {
      if (stopped) await startBroker('rabbitmq');
      await adapter.close();
    }
  });

  it('fails fast with ADP_ERR_BACKPRESSURE while a disk alarm blocks publishing, and resumes after', async (t) => {
    // The alarm is raised by setting the free-disk limit far above the free space, then restored.
    const { stdout } = await exec('rabbitmqctl', ['eval', 'application:get_env(rabbit, disk_free_limit).']);
    const original = /\{ok,(\d+)\}/.exec(stdout)?.[1];
    if (!original) {
      t.skip(`disk_free_limit is not a plain byte count here (${stdout.trim()}); not touching it`);
      return;
    }
    const exchange = exchangeName('alarm');
    await bindQueue(exchange, 'alarm');
    const adapter = adapterFor(exchange, { confirmTimeoutMs: 20_000 });
    let alarmed = false;
    try {
      await adapter.connect(signal());
      await exec('rabbitmqctl', ['set_disk_free_limit', '1000000GB']);
      alarmed = true;
      // RabbitMQ blocks a connection (and says so) when it next publishes. That first message waits.
      const first = adapter.publish([envelope('alarm')], { signal: signal(30_000) });
      const deadline = Date.now() + 15_000;
      while ((await adapter.health()).ok && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match((await adapter.health()).detail ?? '', /blocked/);
      const started = performance.now();
      const [blocked] = await publishSettled(adapter, [envelope('alarm')], { signal: signal() });
      const elapsed = performance.now() - started;
      assert.equal(errorOf(blocked).code, 'ADP_ERR_BACKPRESSURE');
      assert.equal(errorOf(blocked).retriable, true);
      assert.ok(elapsed < 100, `blocked publish took ${elapsed.toFixed(0)} ms`);

      await exec('rabbitmqctl', ['set_disk_free_limit', original]);
      alarmed = false;
      // The message written before the block is confirmed once the alarm clears.
      assert.equal((await first)[0]?.ok, true);
      assert.equal((await adapter.publish([envelope('alarm')], { signal: signal() }))[0]?.ok, true);
    } finally {
      if (alarmed) await exec('rabbitmqctl', ['set_disk_free_limit', original]).catch(() => {});
      await adapter.close();
    }
  });
});
