/**
 * The adapter's own logic against a fake client: states, fail-fast, reconnect, pipelining, FIFO
 * ordering, timeouts, close. The real client and proxy are covered by the contract suite.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MessageOptions, ProducerOptions } from 'rocketmq-client-nodejs';
import { AdapterError, type Logger, type MessageEnvelope, type PublishResult } from '../core/index.js';
import { RocketMqCode } from './classify-error.js';
import { rocketMqConfigSchema } from './config.js';
import type { RocketMqProducerClient } from './guarded-client.js';
import { createRocketMqAdapter } from './rocketmq-adapter.js';

const signal = () => AbortSignal.timeout(5_000);
const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}
const refused = () =>
  grpcError(14, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:8081');

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A producer client whose every call the test can see and steer. */
class FakeClient implements RocketMqProducerClient {
  readonly sent: MessageOptions[] = [];
  disposed = false;
  started = false;
  sendImpl: (message: MessageOptions) => Promise<{ messageId: string }> = async () => ({
    messageId: `BROKER-${this.sent.length}`,
  });
  probeImpl: () => Promise<{ code: number; message: string }> = async () => ({
    code: 40015,
    message: 'no settings',
  });

  constructor(readonly options: ProducerOptions) {}
  async startup() {
    this.started = true;
  }
  send(message: MessageOptions) {
    this.sent.push(message);
    return this.sendImpl(message);
  }
  probe() {
    return this.probeImpl();
  }
  async prefetchRoute() {}
  async dispose() {
    this.disposed = true;
  }
}

interface LogLine {
  level: string;
  message: string | undefined;
  fields: object;
}

function recordingLogger(lines: LogLine[]): Logger {
  const make = (level: string) => (fields: object, message?: string) =>
    void lines.push({ level, message, fields });
  const logger: Logger = {
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    child: () => logger,
  };
  return logger;
}

function setup(
  overrides: Record<string, unknown> = {},
  prepare?: (client: FakeClient, index: number) => void,
) {
  const config = rocketMqConfigSchema.parse({
    kind: 'rocketmq',
    endpoints: '127.0.0.1:8081',
    reconnectInitialDelayMs: 5,
    reconnectMaxDelayMs: 20,
    ...overrides,
  });
  const clients: FakeClient[] = [];
  const lines: LogLine[] = [];
  const adapter = createRocketMqAdapter(
    'rocket-main',
    config,
    { logger: recordingLogger(lines) },
    {
      createClient: (options) => {
        const client = new FakeClient(options);
        prepare?.(client, clients.length);
        clients.push(client);
        return client;
      },
      random: () => 0.5,
    },
  );
  return { adapter, clients, lines, config };
}

function envelope(overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  return {
    id: `id-${Math.random().toString(36).slice(2)}`,
    tenant: 'acme',
    topic: 'demo.orders',
    destination: 'demo.orders',
    payload: new TextEncoder().encode('{"a":1}'),
    contentType: 'application/json',
    headers: { traceparent: '00-x-y-01' },
    createdAt: 1,
    ...overrides,
  };
}

function ok(result: PublishResult | undefined) {
  assert.ok(
    result?.ok,
    result && !result.ok ? `${result.error.code}: ${result.error.message}` : 'missing result',
  );
  return result.receipt;
}
function failed(result: PublishResult | undefined) {
  assert.ok(result && !result.ok, 'expected a failure');
  return result.error;
}

async function until(condition: () => boolean, what: string, ms = 2_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await tick(2);
  }
}

describe('rocketmq adapter (fake client)', () => {
  it('declares capabilities from its config', () => {
    assert.deepEqual(
      { ...setup().adapter.capabilities },
      {
        ordering: 'none',
        delay: false,
        transactions: false,
        nativeIdempotence: false,
        maxMessageBytes: 4 * 1024 * 1024,
        maxDestinationLength: 127,
        readable: false,
      },
    );
    assert.equal(setup({ fifo: true }).adapter.capabilities.ordering, 'per-key');
  });

  it('refuses to publish before connect() and after close()', async () => {
    const { adapter } = setup();
    await assert.rejects(adapter.publish([envelope()], { signal: signal() }), {
      code: 'ADP_ERR_UNAVAILABLE',
    });
    await adapter.connect(signal());
    await adapter.close();
    await assert.rejects(adapter.publish([envelope()], { signal: signal() }), { code: 'ADP_ERR_CLOSED' });
    await assert.rejects(adapter.connect(signal()), { code: 'ADP_ERR_CLOSED' });
  });

  it('sends topic, keys, properties and body, and answers with the broker message id', async () => {
    const { adapter, clients } = setup();
    await adapter.connect(signal());
    const message = envelope({ key: 'customer-42' });
    const [result] = await adapter.publish([message], { signal: signal() });
    assert.deepEqual(ok(result), {
      messageId: message.id,
      broker: 'rocketmq',
      target: 'rocket-main',
      brokerMessageId: 'BROKER-1',
    });
    const sent = clients[0]!.sent[0]!;
    assert.equal(sent.topic, 'demo_orders');
    assert.equal(sent.tag, undefined);
    assert.equal(sent.messageGroup, undefined);
    assert.deepEqual(sent.keys, ['customer-42', message.id]);
    assert.equal(sent.properties?.get('pubgate-id'), message.id);
    assert.equal(sent.properties?.get('traceparent'), '00-x-y-01');
    assert.equal(Buffer.from(sent.body).toString(), '{"a":1}');
    assert.equal(clients[0]!.options.maxAttempts, 1);
    assert.equal(clients[0]!.options.requestTimeout, 3_000);
    await adapter.close();
    assert.equal(clients[0]!.disposed, true);
  });

  it('keeps every message of a batch in flight at once (no serialisation without fifo)', async () => {
    const gates: Array<Deferred<{ messageId: string }>> = [];
    const { adapter, clients } = setup({}, (client) => {
      client.sendImpl = () => {
        const gate = deferred<{ messageId: string }>();
        gates.push(gate);
        return gate.promise;
      };
    });
    await adapter.connect(signal());
    const publishing = adapter.publish([envelope(), envelope(), envelope(), envelope()], {
      signal: signal(),
    });
    await until(() => clients[0]!.sent.length === 4, 'four sends in flight');
    gates.forEach((gate, i) => gate.resolve({ messageId: `m${i}` }));
    const results = await publishing;
    assert.deepEqual(
      results.map((r) => ok(r).brokerMessageId),
      ['m0', 'm1', 'm2', 'm3'],
    );
    await adapter.close();
  });

  it('refuses oversize messages and bad destinations before sending, and still sends the rest', async () => {
    const { adapter, clients } = setup({ maxMessageBytes: 1024, topicNameMapping: 'strict' });
    await adapter.connect(signal());
    const results = await adapter.publish(
      [
        envelope({ payload: new Uint8Array(2048) }),
        envelope({ destination: 'demo.orders' }),
        envelope({ destination: 'ok_topic' }),
      ],
      { signal: signal() },
    );
    assert.equal(failed(results[0]).code, 'ADP_ERR_TOO_LARGE');
    assert.equal(failed(results[1]).code, 'ADP_ERR_INVALID_DESTINATION');
    ok(results[2]);
    assert.deepEqual(
      clients[0]!.sent.map((m) => m.topic),
      ['ok_topic'],
    );
    await adapter.close();
  });

  it('times out a send that gets no answer (ambiguous) and probes the proxy', async () => {
    let probes = 0;
    const { adapter } = setup({ sendTimeoutMs: 30 }, (client) => {
      client.sendImpl = () => new Promise(() => {});
      client.probeImpl = async () => {
        probes += 1;
        return { code: 40015, message: '' };
      };
    });
    await adapter.connect(signal());
    probes = 0;
    const started = Date.now();
    const [result] = await adapter.publish([envelope()], { signal: signal() });
    const error = failed(result);
    assert.equal(error.code, 'ADP_ERR_TIMEOUT');
    assert.equal(error.ambiguous, true);
    assert.ok(Date.now() - started < 1_000);
    await until(() => probes === 1, 'a probe after the timeout');
    assert.equal((await adapter.health()).ok, true);
  });

  it('answers an aborted signal with ADP_ERR_ABORTED, not sent when aborted before', async () => {
    const { adapter, clients } = setup({}, (client) => {
      client.sendImpl = () => new Promise(() => {});
    });
    await adapter.connect(signal());
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    await assert.rejects(adapter.publish([envelope()], { signal: controller.signal }), (error: unknown) => {
      assert.ok(error instanceof AdapterError);
      assert.equal(error.code, 'ADP_ERR_ABORTED');
      assert.equal(error.ambiguous, false);
      return true;
    });
    const later = new AbortController();
    const publishing = adapter.publish([envelope()], { signal: later.signal });
    await until(() => clients[0]!.sent.length === 1, 'the send');
    later.abort(new Error('deadline'));
    const error = failed((await publishing)[0]);
    assert.equal(error.code, 'ADP_ERR_ABORTED');
    assert.equal(error.ambiguous, true);
  });

  it('fails fast while the proxy is down, reconnects with a fresh client, logs each state change', async () => {
    let proxyUp = true;
    const { adapter, clients, lines } = setup({}, (client) => {
      client.sendImpl = async () => {
        if (!proxyUp) throw refused();
        return { messageId: 'ok' };
      };
      client.probeImpl = async () => {
        if (!proxyUp) throw refused();
        return { code: 40015, message: '' };
      };
    });
    await adapter.connect(signal());
    ok((await adapter.publish([envelope()], { signal: signal() }))[0]);

    proxyUp = false;
    const error = failed((await adapter.publish([envelope()], { signal: signal() }))[0]);
    assert.equal(error.code, 'ADP_ERR_UNAVAILABLE');
    assert.equal(error.ambiguous, false);
    await until(
      () => lines.some((l) => l.level === 'warn' && /connection lost/.test(l.message ?? '')),
      'lost',
    );
    assert.equal(clients[0]!.disposed, true, 'the client of the lost connection is released');

    const sentBefore = clients.reduce((n, c) => n + c.sent.length, 0);
    await assert.rejects(adapter.publish([envelope()], { signal: signal() }), {
      code: 'ADP_ERR_UNAVAILABLE',
    });
    assert.equal(
      clients.reduce((n, c) => n + c.sent.length, 0),
      sentBefore,
      'fail fast: nothing sent while down',
    );
    assert.equal((await adapter.health()).ok, false);
    await until(
      () => lines.filter((l) => /reconnecting/.test(l.message ?? '')).length >= 2,
      'reconnect attempts',
    );

    proxyUp = true;
    await until(() => lines.some((l) => /recovered/.test(l.message ?? '')), 'recovered');
    ok((await adapter.publish([envelope()], { signal: signal() }))[0]);
    assert.ok(clients.length >= 3, 'each reconnect attempt uses a fresh client');
    assert.ok(
      clients.slice(0, -1).every((c) => c.disposed),
      'failed attempts are released',
    );
    const reconnecting = lines.find((l) => /reconnecting/.test(l.message ?? ''));
    assert.ok(reconnecting && 'attempt' in reconnecting.fields && 'backoffMs' in reconnecting.fields);
    await adapter.close();
    assert.ok(clients.every((c) => c.disposed));
  });

  it("notices an outage from the client's own background warnings, before any publish fails", async () => {
    let proxyUp = true;
    const { adapter, clients, lines } = setup({}, (client) => {
      client.probeImpl = async () => {
        if (!proxyUp) throw refused();
        return { code: 40015, message: '' };
      };
    });
    await adapter.connect(signal());
    proxyUp = false;
    // What the client logs (and swallows) when its 10 s heartbeat fails.
    clients[0]!.options.logger!.warn(
      'Heartbeat failed for endpoints=%s, error=%s',
      '127.0.0.1:8081',
      refused(),
    );
    await until(() => lines.some((l) => /connection lost/.test(l.message ?? '')), 'lost');
    const warning = lines.find((l) => l.level === 'warn' && /Heartbeat failed/.test(l.message ?? ''));
    assert.ok(warning, 'the client warning is logged');
    assert.doesNotMatch(warning.message ?? '', /\n\s+at /, 'errors are logged as one line, without a stack');
    await assert.rejects(adapter.publish([envelope()], { signal: signal() }), {
      code: 'ADP_ERR_UNAVAILABLE',
    });
    await adapter.close();
  });

  it('connect() rejects while the proxy is unreachable and keeps trying in the background', async () => {
    let proxyUp = false;
    const { adapter } = setup({}, (client) => {
      client.probeImpl = async () => {
        if (!proxyUp) throw refused();
        return { code: 40015, message: '' };
      };
    });
    await assert.rejects(adapter.connect(signal()), { code: 'ADP_ERR_UNAVAILABLE' });
    proxyUp = true;
    const deadline = Date.now() + 2_000;
    while (!(await adapter.health()).ok) {
      assert.ok(Date.now() < deadline, 'did not reconnect by itself');
      await tick(5);
    }
    ok((await adapter.publish([envelope()], { signal: signal() }))[0]);
    await adapter.close();
  });

  it('connect() fails with ADP_ERR_AUTH when the proxy refuses the credentials', async () => {
    const { adapter } = setup({ credentials: { accessKey: 'ak', secretKey: 'sk' } }, (client) => {
      client.probeImpl = async () => ({ code: RocketMqCode.UNAUTHORIZED, message: 'bad signature' });
    });
    await assert.rejects(adapter.connect(signal()), { code: 'ADP_ERR_AUTH' });
    await adapter.close();
  });

  it('fifo: one key at a time in order, different keys in parallel, across concurrent calls', async () => {
    const inFlight = new Map<string, number>();
    let maxPerGroup = 0;
    let maxTotal = 0;
    let total = 0;
    const { adapter, clients } = setup({ fifo: true }, (client) => {
      client.sendImpl = async (message) => {
        const group = message.messageGroup!;
        inFlight.set(group, (inFlight.get(group) ?? 0) + 1);
        total += 1;
        maxPerGroup = Math.max(maxPerGroup, inFlight.get(group)!);
        maxTotal = Math.max(maxTotal, total);
        await tick(3);
        inFlight.set(group, inFlight.get(group)! - 1);
        total -= 1;
        return { messageId: message.properties!.get('seq')! };
      };
    });
    await adapter.connect(signal());
    const calls = [];
    for (const key of ['a', 'b', 'c']) {
      for (let round = 0; round < 3; round++) {
        const batch = [0, 1].map((i) => envelope({ key, headers: { seq: `${key}${round * 2 + i}` } }));
        calls.push(adapter.publish(batch, { signal: signal() }));
      }
    }
    for (const results of await Promise.all(calls)) results.forEach(ok);
    assert.equal(maxPerGroup, 1, 'two messages of one key were in flight together');
    assert.ok(maxTotal > 1, 'different keys were not sent in parallel');
    for (const key of ['a', 'b', 'c']) {
      const order = clients[0]!.sent
        .filter((m) => m.messageGroup === key)
        .map((m) => m.properties!.get('seq'));
      assert.deepEqual(
        order,
        [0, 1, 2, 3, 4, 5].map((n) => `${key}${n}`),
      );
    }
    const unkeyed = envelope();
    await adapter.publish([unkeyed], { signal: signal() });
    assert.equal(clients[0]!.sent.at(-1)!.messageGroup, unkeyed.id);
    await adapter.close();
  });

  it('fifo: a retriable failure holds back the rest of that key, other keys go on', async () => {
    const { adapter, clients } = setup({ fifo: true }, (client) => {
      client.sendImpl = async (message) => {
        if (message.properties!.get('seq') === 'a1') throw grpcError(4, 'Deadline exceeded');
        return { messageId: 'ok' };
      };
    });
    await adapter.connect(signal());
    const batch = [
      envelope({ key: 'a', headers: { seq: 'a0' } }),
      envelope({ key: 'a', headers: { seq: 'a1' } }),
      envelope({ key: 'b', headers: { seq: 'b0' } }),
      envelope({ key: 'a', headers: { seq: 'a2' } }),
    ];
    const results = await adapter.publish(batch, { signal: signal() });
    ok(results[0]);
    assert.equal(failed(results[1]).code, 'ADP_ERR_TIMEOUT');
    assert.equal(failed(results[1]).ambiguous, true);
    ok(results[2]);
    const held = failed(results[3]);
    assert.equal(held.retriable, true);
    assert.equal(held.ambiguous, false);
    assert.match(held.message, /not sent/);
    assert.deepEqual(clients[0]!.sent.map((m) => m.properties!.get('seq')).sort(), ['a0', 'a1', 'b0']);
    await adapter.close();
  });

  it('close() waits for in-flight publishes, is idempotent, and releases the client once', async () => {
    const gate = deferred<{ messageId: string }>();
    const { adapter, clients } = setup({}, (client) => {
      client.sendImpl = () => gate.promise;
    });
    await adapter.connect(signal());
    const publishing = adapter.publish([envelope()], { signal: signal() });
    await until(() => clients[0]!.sent.length === 1, 'the send');
    let closed = false;
    const closing = Promise.all([adapter.close(), adapter.close()]).then(() => (closed = true));
    await tick(10);
    assert.equal(closed, false, 'close() returned before the in-flight publish settled');
    await assert.rejects(adapter.publish([envelope()], { signal: signal() }), { code: 'ADP_ERR_CLOSED' });
    gate.resolve({ messageId: 'late' });
    ok((await publishing)[0]);
    await closing;
    assert.equal(clients[0]!.disposed, true);
    assert.equal((await adapter.health()).ok, false);
  });
});
