/**
 * Unit tests of the adapter's bookkeeping against a fake amqplib (connection + confirm channel).
 * The real broker is exercised by rabbitmq-adapter.broker.test.ts and the contract suite.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { IllegalOperationError, type Options } from 'amqplib';
import {
  AdapterError,
  type BrokerAdapter,
  type Logger,
  type MessageEnvelope,
  type PublishResult,
} from '../core/index.js';
import { rabbitmqConfigSchema, type RabbitMqConfig } from './config.js';
import {
  createRabbitMqAdapter,
  redactUrl,
  type AmqpChannel,
  type AmqpConnection,
  type AmqpSocketOptions,
} from './rabbitmq-adapter.js';

// --- a fake amqplib ------------------------------------------------------------------------------

interface Published {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
}

class FakeChannel extends EventEmitter implements AmqpChannel {
  readonly published: Published[] = [];
  writable = true;
  closed = false;
  asserted: { name: string; type: string; options?: Options.AssertExchange } | undefined;
  checked: string | undefined;
  exchangeError: Error | undefined;

  async assertExchange(name: string, type: string, options?: Options.AssertExchange): Promise<unknown> {
    this.asserted = { name, type, ...(options ? { options } : {}) };
    if (this.exchangeError) {
      this.serverClose(this.exchangeError);
      throw this.exchangeError;
    }
    return {};
  }

  async checkExchange(name: string): Promise<unknown> {
    this.checked = name;
    if (this.exchangeError) {
      this.serverClose(this.exchangeError);
      throw this.exchangeError;
    }
    return {};
  }

  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish = {}): boolean {
    if (this.closed) throw new IllegalOperationError('Channel closed');
    this.published.push({ exchange, routingKey, content, options });
    return this.writable;
  }

  async close(): Promise<void> {
    this.serverClose();
  }

  ack(deliveryTag: number, multiple = false): void {
    this.emit('ack', { deliveryTag, multiple });
  }

  nack(deliveryTag: number, multiple = false): void {
    this.emit('nack', { deliveryTag, multiple, requeue: false });
  }

  /** basic.return for the message published with this delivery tag (1-based). */
  returnMessage(deliveryTag: number): void {
    const message = this.published[deliveryTag - 1]!;
    this.emit('return', {
      fields: {
        replyCode: 312,
        replyText: 'NO_ROUTE',
        exchange: message.exchange,
        routingKey: message.routingKey,
      },
      properties: message.options,
      content: message.content,
    });
  }

  serverClose(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (error) this.emit('error', error);
    this.emit('close');
  }
}

class FakeConnection extends EventEmitter implements AmqpConnection {
  readonly channels: FakeChannel[] = [];
  closed = false;
  exchangeError: Error | undefined;

  constructor(
    readonly url: string,
    readonly socketOptions: AmqpSocketOptions,
  ) {
    super();
  }

  async createConfirmChannel(): Promise<FakeChannel> {
    if (this.closed) throw new IllegalOperationError('Connection closed');
    const channel = new FakeChannel();
    channel.exchangeError = this.exchangeError;
    this.channels.push(channel);
    return channel;
  }

  async close(): Promise<void> {
    this.drop();
  }

  drop(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const channel of this.channels) channel.serverClose();
    this.emit('close', error);
  }
}

class FakeBroker {
  readonly connections: FakeConnection[] = [];
  /** While set, connection attempts fail with this error. */
  refuse: Error | undefined;
  exchangeError: Error | undefined;

  readonly connect = async (url: string, socketOptions: AmqpSocketOptions): Promise<FakeConnection> => {
    await Promise.resolve();
    if (this.refuse) throw this.refuse;
    const connection = new FakeConnection(url, socketOptions);
    connection.exchangeError = this.exchangeError;
    this.connections.push(connection);
    return connection;
  };

  get connection(): FakeConnection {
    const last = this.connections.at(-1);
    assert.ok(last, 'no connection yet');
    return last;
  }

  get channel(): FakeChannel {
    const last = this.connection.channels.at(-1);
    assert.ok(last, 'no channel yet');
    return last;
  }
}

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5672'), { code: 'ECONNREFUSED' });
}

// --- helpers -------------------------------------------------------------------------------------

function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: (fields, message) => lines.push(`debug ${message} ${JSON.stringify(fields)}`),
    info: (fields, message) => lines.push(`info ${message} ${JSON.stringify(fields)}`),
    warn: (fields, message) => lines.push(`warn ${message} ${JSON.stringify(fields)}`),
    error: (fields, message) => lines.push(`error ${message} ${JSON.stringify(fields)}`),
    child: (bindings) => {
      lines.push(`child ${JSON.stringify(bindings)}`);
      return logger;
    },
  };
  return logger;
}

function makeConfig(overrides: Record<string, unknown> = {}): RabbitMqConfig {
  return rabbitmqConfigSchema.parse({
    kind: 'rabbitmq',
    url: 'amqp://guest:s3cret@127.0.0.1:5672/%2F',
    confirmTimeoutMs: 1000,
    reconnect: { initialDelayMs: 0, maxDelayMs: 1 },
    ...overrides,
  });
}

function setup(overrides: Record<string, unknown> = {}) {
  const broker = new FakeBroker();
  const logs: string[] = [];
  const adapter = createRabbitMqAdapter(
    'rabbit-test',
    makeConfig(overrides),
    { logger: recordingLogger(logs) },
    {
      connect: broker.connect,
      random: () => 0,
    },
  );
  return { broker, adapter, logs };
}

let counter = 0;
function envelope(overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  counter++;
  return {
    id: `id-${counter}`,
    tenant: 'acme',
    topic: 'orders',
    destination: 'orders.created',
    payload: new TextEncoder().encode(`{"n":${counter}}`),
    contentType: 'application/json',
    headers: { traceparent: 'tp' },
    createdAt: 1_700_000_000_123,
    ...overrides,
  };
}

function signal(ms = 5000): AbortSignal {
  return AbortSignal.timeout(ms);
}

async function until(predicate: () => boolean, what: string, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function failure(result: PublishResult | undefined): AdapterError {
  assert.ok(result && !result.ok, `expected a failure, got ${JSON.stringify(result)}`);
  return result.error;
}

async function rejection(promise: Promise<unknown>): Promise<AdapterError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AdapterError, `expected an AdapterError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

async function connected(overrides: Record<string, unknown> = {}): Promise<ReturnType<typeof setup>> {
  const context = setup(overrides);
  await context.adapter.connect(signal());
  return context;
}

async function closeQuietly(adapter: BrokerAdapter): Promise<void> {
  await settledWithin(adapter.close(), 3000);
}

// --- tests ---------------------------------------------------------------------------------------

describe('rabbitmq adapter (fake amqplib)', () => {
  it('connects with heartbeat, connection name and a durable exchange, and declares its capabilities', async () => {
    const { broker, adapter } = await connected();
    try {
      const url = new URL(broker.connection.url);
      assert.equal(url.searchParams.get('heartbeat'), '10');
      assert.deepEqual(broker.connection.socketOptions, {
        timeout: 10_000,
        clientProperties: { connection_name: 'pubgate:rabbit-test' },
      });
      assert.deepEqual(broker.channel.asserted, {
        name: 'pubgate',
        type: 'topic',
        options: { durable: true, autoDelete: false },
      });
      assert.equal(adapter.kind, 'rabbitmq');
      assert.equal(adapter.target, 'rabbit-test');
      assert.deepEqual(adapter.capabilities, {
        ordering: 'per-key',
        delay: false,
        transactions: false,
        nativeIdempotence: false,
        maxMessageBytes: 16 * 1024 * 1024,
        maxDestinationLength: 255,
        readable: false,
      });
      assert.deepEqual(await adapter.health(), {
        ok: true,
        detail: 'connected to amqp://guest:***@127.0.0.1:5672/%2F, exchange pubgate',
      });
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('publishes persistent, mandatory messages with the envelope in properties and headers, confirmed by ack', async () => {
    const { broker, adapter } = await connected();
    try {
      const first = envelope({ key: 'customer-1' });
      const second = envelope();
      const call = adapter.publish([first, second], { signal: signal() });
      await until(() => broker.channel.published.length === 2, 'two writes');
      const [one] = broker.channel.published;
      assert.equal(one!.exchange, 'pubgate');
      assert.equal(one!.routingKey, 'orders.created');
      assert.deepEqual(one!.content, Buffer.from(first.payload));
      assert.deepEqual(one!.options, {
        persistent: true,
        mandatory: true,
        messageId: first.id,
        contentType: 'application/json',
        timestamp: 1_700_000_000,
        appId: 'pubgate',
        headers: {
          traceparent: 'tp',
          'pubgate-id': first.id,
          'pubgate-tenant': 'acme',
          'pubgate-topic': 'orders',
          'content-type': 'application/json',
          'pubgate-created-at': '1700000000123',
          'pubgate-key': 'customer-1',
        },
      });
      broker.channel.ack(2, true); // one multiple ack confirms both
      const results = await settledWithin(call, 1000);
      assert.deepEqual(results, [
        { ok: true, receipt: { messageId: first.id, broker: 'rabbitmq', target: 'rabbit-test' } },
        { ok: true, receipt: { messageId: second.id, broker: 'rabbitmq', target: 'rabbit-test' } },
      ]);
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('reports a returned message as unroutable even though the broker acks it afterwards', async () => {
    const { broker, adapter } = await connected();
    try {
      const routed = envelope({ destination: 'bound' });
      const lost = envelope({ destination: 'nobody.listens' });
      const call = adapter.publish([routed, lost], { signal: signal() });
      await until(() => broker.channel.published.length === 2, 'two writes');
      broker.channel.returnMessage(2); // basic.return comes before the basic.ack for the same message
      broker.channel.ack(2, true);
      const [ok, unroutable] = await settledWithin(call, 1000);
      assert.equal(ok?.ok, true);
      const error = failure(unroutable);
      assert.equal(error.code, 'ADP_ERR_UNROUTABLE');
      assert.equal(error.retriable, false);
      assert.equal(error.ambiguous, false);
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('maps a nack to ADP_ERR_REJECTED', async () => {
    const { broker, adapter } = await connected();
    try {
      const call = adapter.publish([envelope()], { signal: signal() });
      await until(() => broker.channel.published.length === 1, 'a write');
      broker.channel.nack(1);
      const error = failure((await settledWithin(call, 1000))[0]);
      assert.equal(error.code, 'ADP_ERR_REJECTED');
      assert.equal(error.retriable, false);
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('bounds every confirm with confirmTimeoutMs (ambiguous) and ignores the late ack', async () => {
    const { broker, adapter, logs } = await connected({ confirmTimeoutMs: 100 });
    try {
      const started = Date.now();
      const [result] = await settledWithin(adapter.publish([envelope()], { signal: signal() }), 2000);
      const error = failure(result);
      assert.equal(error.code, 'ADP_ERR_TIMEOUT');
      assert.equal(error.ambiguous, true);
      assert.ok(Date.now() - started < 1000);
      broker.channel.ack(1);
      assert.ok(logs.some((line) => line.includes('confirm arrived after the message was settled')));
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('settles unconfirmed messages promptly when the connection dies, fails fast while down, and recovers by itself', async () => {
    const { broker, adapter, logs } = await connected();
    try {
      const inFlight = adapter.publish([envelope(), envelope()], { signal: signal() });
      await until(() => broker.channel.published.length === 2, 'two writes');
      broker.channel.ack(1);
      broker.refuse = refused();
      broker.connection.drop(
        Object.assign(new Error('Connection closed: 320 (CONNECTION-FORCED)'), { code: 320 }),
      );
      const [confirmed, lost] = await settledWithin(inFlight, 200);
      assert.equal(confirmed?.ok, true);
      const lostError = failure(lost);
      assert.equal(lostError.code, 'ADP_ERR_CONNECTION_LOST');
      assert.equal(lostError.ambiguous, true);
      assert.equal(lostError.retriable, true);

      const started = Date.now();
      const down = await rejection(adapter.publish([envelope()], { signal: signal() }));
      assert.equal(down.code, 'ADP_ERR_UNAVAILABLE');
      assert.equal(down.retriable, true);
      assert.equal(down.ambiguous, false);
      assert.ok(Date.now() - started < 100, 'publish while disconnected must fail fast');
      assert.equal((await adapter.health()).ok, false);

      broker.refuse = undefined;
      await until(
        () => broker.connections.length === 2 && broker.connection.channels.length === 1,
        'a reconnect',
      );
      await adapter.connect(signal());
      const call = adapter.publish([envelope()], { signal: signal() });
      await until(() => broker.channel.published.length === 1, 'a write on the new channel');
      broker.channel.ack(1); // delivery tags restart at 1 on the new channel
      assert.equal((await settledWithin(call, 1000))[0]?.ok, true);
      assert.ok(logs.some((line) => line.startsWith('warn rabbitmq connection lost')));
      assert.ok(
        logs.some((line) => line.startsWith('warn rabbitmq reconnecting') && line.includes('"backoffMs"')),
      );
      assert.ok(logs.some((line) => line.startsWith('info rabbitmq publishing recovered')));
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('reopens the channel on the same connection after a channel error', async () => {
    const { broker, adapter } = await connected();
    try {
      const call = adapter.publish([envelope()], { signal: signal() });
      await until(() => broker.channel.published.length === 1, 'a write');
      const channelError = Object.assign(new Error('Channel closed by server: 541 (INTERNAL-ERROR)'), {
        code: 541,
      });
      broker.channel.serverClose(channelError);
      const error = failure((await settledWithin(call, 200))[0]);
      assert.equal(error.code, 'ADP_ERR_CONNECTION_LOST');
      await until(() => broker.connection.channels.length === 2, 'a second channel');
      assert.equal(broker.connections.length, 1);
      await adapter.connect(signal());
      const next = adapter.publish([envelope()], { signal: signal() });
      await until(() => broker.channel.published.length === 1, 'a write on the new channel');
      broker.channel.ack(1);
      assert.equal((await settledWithin(next, 1000))[0]?.ok, true);
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('fails fast with ADP_ERR_BACKPRESSURE while the broker blocks the connection', async () => {
    const { broker, adapter, logs } = await connected();
    try {
      broker.connection.emit('blocked', 'low on disk');
      const blocked = await rejection(adapter.publish([envelope()], { signal: signal() }));
      assert.equal(blocked.code, 'ADP_ERR_BACKPRESSURE');
      assert.equal(blocked.retriable, true);
      assert.deepEqual(await adapter.health(), { ok: false, detail: 'blocked by the broker: low on disk' });
      broker.connection.emit('unblocked');
      const call = adapter.publish([envelope()], { signal: signal() });
      await until(() => broker.channel.published.length === 1, 'a write');
      broker.channel.ack(1);
      assert.equal((await settledWithin(call, 1000))[0]?.ok, true);
      assert.ok(logs.some((line) => line.startsWith('warn rabbitmq blocked')));
      assert.ok(logs.some((line) => line.startsWith('warn rabbitmq unblocked')));
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('waits for drain when the socket buffer is full, keeping publish order', async () => {
    const { broker, adapter } = await connected();
    try {
      broker.channel.writable = false;
      const a = envelope();
      const b = envelope();
      const c = envelope();
      const first = adapter.publish([a, b], { signal: signal() });
      const second = adapter.publish([c], { signal: signal() });
      await until(() => broker.channel.published.length === 1, 'the first write');
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(broker.channel.published.length, 1, 'nothing more is written before drain');
      broker.channel.writable = true;
      broker.channel.emit('drain');
      assert.deepEqual(
        broker.channel.published.map((p) => p.options.messageId),
        [a.id, b.id, c.id],
      );
      broker.channel.ack(3, true);
      assert.equal(
        (await settledWithin(first, 1000)).every((r) => r.ok),
        true,
      );
      assert.equal((await settledWithin(second, 1000))[0]?.ok, true);
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('pipelines up to maxInFlight unconfirmed messages, then queues', async () => {
    const { broker, adapter } = await connected({ maxInFlight: 2 });
    try {
      const calls = [1, 2, 3].map(() => adapter.publish([envelope()], { signal: signal() }));
      await until(() => broker.channel.published.length === 2, 'two writes');
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(broker.channel.published.length, 2);
      broker.channel.ack(1);
      await until(() => broker.channel.published.length === 3, 'the third write');
      broker.channel.ack(3, true);
      for (const call of calls) assert.equal((await settledWithin(call, 1000))[0]?.ok, true);
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('honours the AbortSignal: unambiguous before the write, ambiguous after', async () => {
    const { broker, adapter } = await connected({ maxInFlight: 1 });
    try {
      const written = new AbortController();
      const queued = new AbortController();
      const first = adapter.publish([envelope()], { signal: written.signal });
      const second = adapter.publish([envelope()], { signal: queued.signal });
      await until(() => broker.channel.published.length === 1, 'the first write');
      queued.abort(new Error('client went away'));
      written.abort(new Error('deadline'));
      const afterWrite = failure((await settledWithin(first, 200))[0]);
      assert.equal(afterWrite.code, 'ADP_ERR_ABORTED');
      assert.equal(afterWrite.ambiguous, true);
      const beforeWrite = failure((await settledWithin(second, 200))[0]);
      assert.equal(beforeWrite.code, 'ADP_ERR_ABORTED');
      assert.equal(beforeWrite.ambiguous, false);
      broker.channel.ack(1);
      assert.equal(broker.channel.published.length, 1, 'the aborted queued message is never written');

      const already = new AbortController();
      already.abort();
      const rejected = await rejection(adapter.publish([envelope()], { signal: already.signal }));
      assert.equal(rejected.code, 'ADP_ERR_ABORTED');
      assert.equal(rejected.ambiguous, false);
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('refuses oversize messages and invalid routing keys before writing, and still sends the rest', async () => {
    const { broker, adapter } = await connected({ maxMessageBytes: 1024 });
    try {
      const call = adapter.publish(
        [
          envelope({ payload: new Uint8Array(2048) }),
          envelope({ destination: 'é'.repeat(128) }), // 256 bytes
          envelope(),
        ],
        { signal: signal() },
      );
      await until(() => broker.channel.published.length === 1, 'one write');
      broker.channel.ack(1);
      const [big, longKey, ok] = await settledWithin(call, 1000);
      assert.equal(failure(big).code, 'ADP_ERR_TOO_LARGE');
      assert.equal(failure(longKey).code, 'ADP_ERR_INVALID_DESTINATION');
      assert.equal(ok?.ok, true);
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('close() waits for in-flight confirms, is idempotent, and publish then fails with ADP_ERR_CLOSED', async () => {
    const { broker, adapter } = await connected();
    const call = adapter.publish([envelope()], { signal: signal() });
    await until(() => broker.channel.published.length === 1, 'a write');
    let closed = false;
    const closing = adapter.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(closed, false, 'close() must wait for the unconfirmed message');
    broker.channel.ack(1);
    assert.equal((await settledWithin(call, 1000))[0]?.ok, true);
    await settledWithin(Promise.all([closing, adapter.close()]), 1000);
    assert.equal(broker.connection.closed, true);
    const error = await rejection(adapter.publish([envelope()], { signal: signal() }));
    assert.equal(error.code, 'ADP_ERR_CLOSED');
    assert.equal((await rejection(adapter.connect())).code, 'ADP_ERR_CLOSED');
    assert.equal((await adapter.health()).ok, false);
  });

  it('connect() rejects at once on a failure retrying cannot fix', async () => {
    const { broker, adapter } = setup();
    broker.refuse = new Error(
      'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"',
    );
    try {
      const error = await rejection(settledWithin(adapter.connect(signal()), 1000));
      assert.equal(error.code, 'ADP_ERR_AUTH');
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('connect() keeps trying through retriable failures until its signal gives up', async () => {
    const { broker, adapter } = setup();
    broker.refuse = refused();
    try {
      const error = await rejection(adapter.connect(AbortSignal.timeout(100)));
      assert.equal(error.code, 'ADP_ERR_UNAVAILABLE');
      assert.match(error.message, /ECONNREFUSED/);
      broker.refuse = undefined;
      await adapter.connect(signal());
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('with declareExchange false only checks the exchange, and a missing one fails connect()', async () => {
    const { broker, adapter } = setup({ declareExchange: false });
    broker.exchangeError = Object.assign(new Error('Operation failed: ExchangeDeclare; 404 (NOT-FOUND)'), {
      code: 404,
    });
    try {
      const error = await rejection(settledWithin(adapter.connect(signal()), 1000));
      assert.equal(error.code, 'ADP_ERR_NO_DESTINATION');
      assert.equal(broker.connection.channels[0]?.checked, 'pubgate');
      assert.equal(broker.connection.channels[0]?.asserted, undefined);
    } finally {
      await closeQuietly(adapter);
    }
  });

  it('fails publish before connect() and never logs the password', async () => {
    const { broker, adapter, logs } = setup();
    const error = await rejection(adapter.publish([envelope()], { signal: signal() }));
    assert.equal(error.code, 'ADP_ERR_UNAVAILABLE');
    await adapter.connect(signal());
    broker.connection.drop(new Error('Heartbeat timeout'));
    await until(() => broker.connections.length === 2, 'a reconnect');
    await closeQuietly(adapter);
    assert.ok(logs.length > 0);
    for (const line of logs) assert.doesNotMatch(line, /s3cret/);
  });
});

describe('redactUrl', () => {
  it('hides the password and the query', () => {
    assert.equal(
      redactUrl('amqps://user:p%40ss@host:5671/vh?frameMax=8192'),
      'amqps://user:***@host:5671/vh',
    );
    assert.equal(redactUrl('amqp://host'), 'amqp://host');
  });
});
