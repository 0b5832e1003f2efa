/**
 * Unit tests of the Kafka adapter that need no Kafka: validation, failing fast against a port where
 * nothing listens and against a "black hole" that accepts connections and never answers, abort
 * handling, close, log forwarding and the sticky partitioner. The adapter's behaviour against the
 * real broker is in kafka-adapter.broker.test.ts and the contract suite.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import type { Message, PartitionerArgs } from 'kafkajs';
import {
  AdapterError,
  publishSettled,
  silentLogger,
  type Logger,
  type MessageEnvelope,
} from '../core/index.js';
import { kafkaConfigSchema } from './config.js';
import {
  createKafkaAdapter,
  createStickyPartitioner,
  forwardKafkaLog,
  validateTopicName,
  type KafkaAdapter,
} from './kafka-adapter.js';

const { Partitioners, logLevel } = kafkajs;

function envelope(overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  return {
    id: randomUUID(),
    tenant: 't',
    topic: 'orders',
    destination: 'orders',
    payload: new TextEncoder().encode('{"n":1}'),
    contentType: 'application/json',
    headers: {},
    createdAt: Date.now(),
    ...overrides,
  };
}

function adapterFor(brokers: string[], config: Record<string, unknown> = {}): KafkaAdapter {
  const parsed = kafkaConfigSchema.parse({
    kind: 'kafka',
    brokers,
    connectionTimeoutMs: 300,
    requestTimeoutMs: 500,
    deliveryTimeoutMs: 2000,
    retry: { retries: 2, initialRetryTimeMs: 50, maxRetryTimeMs: 200 },
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    ...config,
  });
  return createKafkaAdapter('unit', parsed, { logger: silentLogger });
}

/** A loopback port where nothing listens (connections are refused). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Accepts TCP connections and never answers, like a frozen broker. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

describe('validateTopicName', () => {
  it('accepts Kafka topic names', () => {
    for (const name of ['orders', 'orders.created', 'a_b-c.D9', 'x'.repeat(249), '.hidden', 'a..b']) {
      assert.equal(validateTopicName(name), undefined, name);
    }
  });

  it('refuses names Kafka refuses, and internal topics', () => {
    for (const name of [
      '',
      '.',
      '..',
      'x'.repeat(250),
      'a b',
      'a/b',
      '../admin',
      'ü',
      'a:b',
      '__consumer_offsets',
    ]) {
      const error = validateTopicName(name);
      assert.ok(error, `${JSON.stringify(name)} must be refused`);
      assert.equal(error.code, 'ADP_ERR_INVALID_DESTINATION');
      assert.equal(error.retriable, false);
    }
  });
});

describe('kafka adapter without a broker', () => {
  let refusedPort: number;
  before(async () => {
    refusedPort = await closedPort();
  });

  it('declares its capabilities from the config', async () => {
    const adapter = adapterFor([`127.0.0.1:${refusedPort}`], { idempotent: false, maxMessageBytes: 4096 });
    assert.equal(adapter.kind, 'kafka');
    assert.equal(adapter.target, 'unit');
    assert.deepEqual(adapter.capabilities, {
      ordering: 'per-key',
      delay: false,
      transactions: false,
      nativeIdempotence: false,
      maxMessageBytes: 4096,
      maxDestinationLength: 249,
      readable: false,
    });
    await adapter.close();
  });

  it('refuses invalid topics and oversize messages per message, without touching the network', async () => {
    const adapter = adapterFor([`127.0.0.1:${refusedPort}`], { maxMessageBytes: 2048 });
    try {
      const { value: results, ms } = await timed(() =>
        adapter.publish(
          [envelope({ destination: 'bad topic' }), envelope({ payload: new Uint8Array(4096) })],
          {
            signal: AbortSignal.timeout(5000),
          },
        ),
      );
      assert.equal(results[0]?.ok, false);
      assert.equal(results[0]?.ok === false && results[0].error.code, 'ADP_ERR_INVALID_DESTINATION');
      assert.equal(results[1]?.ok === false && results[1].error.code, 'ADP_ERR_TOO_LARGE');
      assert.ok(ms < 100, `took ${ms} ms`);
      assert.equal(
        adapter.stats().producersCreated,
        0,
        'no connection may be attempted for refused messages',
      );
    } finally {
      await adapter.close();
    }
  });

  it('fails a connect quickly when nothing listens, then fails publishes fast while reconnecting', async () => {
    const adapter = adapterFor([`127.0.0.1:${refusedPort}`]);
    try {
      const connect = await timed(() =>
        adapter.connect(AbortSignal.timeout(10_000)).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      assert.ok(connect.value instanceof AdapterError, 'connect must reject with an AdapterError');
      assert.equal(connect.value.code, 'ADP_ERR_UNAVAILABLE');
      assert.equal(connect.value.retriable, true);
      assert.ok(connect.ms < 3000, `connect took ${connect.ms} ms`);
      assert.equal(adapter.stats().state, 'down');

      const publish = await timed(() =>
        adapter.publish([envelope(), envelope()], { signal: AbortSignal.timeout(10_000) }),
      );
      assert.ok(publish.ms < 50, `a publish while Kafka is known down took ${publish.ms} ms`);
      for (const result of publish.value) {
        assert.ok(result.ok === false);
        assert.equal(result.error.code, 'ADP_ERR_UNAVAILABLE');
        assert.equal(result.error.retriable, true);
        assert.equal(result.error.ambiguous, false);
      }

      const health = await adapter.health();
      assert.equal(health.ok, false);
      assert.ok(health.detail);

      // The background loop keeps trying (backoff 50..200 ms here).
      const attempts = adapter.stats().reconnectAttempts;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.ok(adapter.stats().reconnectAttempts > attempts, 'no reconnect attempt in the background');
    } finally {
      await adapter.close();
    }
  });

  it('answers a first publish (before connect) within the retry bound when nothing listens', async () => {
    const adapter = adapterFor([`127.0.0.1:${refusedPort}`]);
    try {
      const { value: results, ms } = await timed(() =>
        publishSettled(adapter, [envelope()], { signal: AbortSignal.timeout(10_000) }),
      );
      assert.ok(ms < 3000, `took ${ms} ms`);
      assert.ok(results[0]?.ok === false);
      assert.equal(results[0].error.code, 'ADP_ERR_UNAVAILABLE');
      assert.equal(results[0].error.ambiguous, false, 'nothing can have been written');
    } finally {
      await adapter.close();
    }
  });

  it('gives up on a broker that accepts connections but never answers within deliveryTimeoutMs', async () => {
    const hole = await blackHole();
    const adapter = adapterFor([`127.0.0.1:${hole.port}`], { deliveryTimeoutMs: 1500 });
    try {
      const { value: results, ms } = await timed(() =>
        publishSettled(adapter, [envelope()], { signal: AbortSignal.timeout(10_000) }),
      );
      assert.ok(ms < 2500, `took ${ms} ms`);
      assert.ok(results[0]?.ok === false);
      assert.ok(results[0].error.retriable);
      assert.ok(
        ['ADP_ERR_UNAVAILABLE', 'ADP_ERR_TIMEOUT'].includes(results[0].error.code),
        results[0].error.code,
      );
      assert.equal(adapter.stats().state, 'down');
    } finally {
      await adapter.close();
      await hole.close();
    }
  });

  it("honours the caller's AbortSignal while waiting; unsent messages are not ambiguous", async () => {
    const hole = await blackHole();
    const adapter = adapterFor([`127.0.0.1:${hole.port}`], {
      deliveryTimeoutMs: 5000,
      connectionTimeoutMs: 3000,
    });
    try {
      const { value: results, ms } = await timed(() =>
        adapter.publish([envelope(), envelope()], { signal: AbortSignal.timeout(200) }),
      );
      assert.ok(ms < 1000, `abort took ${ms} ms`);
      for (const result of results) {
        assert.ok(result.ok === false);
        assert.equal(result.error.code, 'ADP_ERR_ABORTED');
        assert.equal(result.error.ambiguous, false, 'the messages never left the queue');
      }
      assert.equal(adapter.stats().queuedMessages, 0, 'aborted messages must leave the queue');
    } finally {
      await adapter.close();
      await hole.close();
    }
  });

  it('rejects an already aborted publish with ADP_ERR_ABORTED', async () => {
    const adapter = adapterFor([`127.0.0.1:${refusedPort}`]);
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    await assert.rejects(adapter.publish([envelope()], { signal: controller.signal }), (error: unknown) => {
      assert.ok(error instanceof AdapterError);
      assert.equal(error.code, 'ADP_ERR_ABORTED');
      assert.equal(error.ambiguous, false);
      return true;
    });
    await adapter.close();
  });

  it('closes idempotently, stops reconnecting, and refuses publishes afterwards', async () => {
    const adapter = adapterFor([`127.0.0.1:${refusedPort}`]);
    await adapter.connect().catch(() => {});
    await Promise.all([adapter.close(), adapter.close()]);
    await adapter.close();
    assert.equal(adapter.stats().state, 'closed');
    const attempts = adapter.stats().reconnectAttempts;
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(adapter.stats().reconnectAttempts, attempts, 'a closed adapter must not reconnect');
    await assert.rejects(adapter.publish([envelope()], { signal: AbortSignal.timeout(1000) }), {
      code: 'ADP_ERR_CLOSED',
    });
    await assert.rejects(adapter.connect(), { code: 'ADP_ERR_CLOSED' });
    assert.deepEqual(await adapter.health(), { ok: false, detail: 'closed' });
  });
});

describe('createStickyPartitioner', () => {
  const partitionMetadata = [0, 1, 2, 3].map((partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
  const args = (message: Message): PartitionerArgs => ({ topic: 't', partitionMetadata, message });

  it("places keyed messages like kafkajs's DefaultPartitioner (Java-compatible murmur2)", () => {
    const assigned = new WeakMap<Message, number>();
    const sticky = createStickyPartitioner(assigned)();
    const reference = Partitioners.DefaultPartitioner();
    for (const key of ['a', 'b', 'customer-42', 'ü']) {
      const message = { key, value: 'v' };
      assert.equal(sticky(args(message)), reference(args({ key, value: 'v' })));
      assert.equal(assigned.get(message), sticky(args(message)));
    }
  });

  it('keeps a keyless message on its first partition across retries, while spreading new ones', () => {
    const assigned = new WeakMap<Message, number>();
    const sticky = createStickyPartitioner(assigned)();
    const message = { value: 'v' };
    const first = sticky(args(message));
    for (let i = 0; i < 10; i++) assert.equal(sticky(args(message)), first);
    const spread = new Set(Array.from({ length: 12 }, () => sticky(args({ value: 'x' }))));
    assert.ok(spread.size > 1, 'keyless messages should still be spread round-robin');
  });
});

describe('forwardKafkaLog', () => {
  function recorder(): { logger: Logger; lines: { level: string; fields: object; message?: string }[] } {
    const lines: { level: string; fields: object; message?: string }[] = [];
    const logger: Logger = {
      debug: (fields, message) => lines.push({ level: 'debug', fields, message }),
      info: (fields, message) => lines.push({ level: 'info', fields, message }),
      warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
      error: (fields, message) => lines.push({ level: 'error', fields, message }),
      child: () => logger,
    };
    return { logger, lines };
  }
  const entry = (level: number, message: string, extra: object = {}) => ({
    namespace: 'Connection',
    level,
    label: 'X',
    log: { timestamp: '2024-01-01T00:00:00Z', logger: 'kafkajs', message, ...extra },
  });

  it('maps levels (kafkajs errors become warnings) and keeps the fields structured', () => {
    const { logger, lines } = recorder();
    forwardKafkaLog(logger, entry(logLevel.ERROR, 'Connection error', { broker: 'b:9092' }));
    forwardKafkaLog(logger, entry(logLevel.WARN, 'w'));
    forwardKafkaLog(logger, entry(logLevel.INFO, 'i'));
    forwardKafkaLog(logger, entry(logLevel.DEBUG, 'd'));
    assert.deepEqual(
      lines.map((l) => l.level),
      ['warn', 'warn', 'info', 'debug'],
    );
    assert.deepEqual(lines[0], {
      level: 'warn',
      fields: { kafkajs: 'Connection', broker: 'b:9092' },
      message: 'Connection error',
    });
  });

  it('demotes kafkajs errors to debug while the adapter knows Kafka is down', () => {
    const { logger, lines } = recorder();
    forwardKafkaLog(logger, entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED'), { quiet: true });
    forwardKafkaLog(logger, entry(logLevel.INFO, 'i'), { quiet: true });
    assert.deepEqual(
      lines.map((l) => l.level),
      ['debug', 'info'],
    );
  });

  it("demotes kafkajs's warning about bounded idempotent retries (the adapter handles it)", () => {
    const { logger, lines } = recorder();
    forwardKafkaLog(
      logger,
      entry(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'),
    );
    assert.equal(lines[0]?.level, 'debug');
  });
});

after(() => {
  // Nothing to clean up: every adapter above is closed in its own test. If a timer or socket
  // leaked, node:test would keep the process alive and the run would time out.
});
