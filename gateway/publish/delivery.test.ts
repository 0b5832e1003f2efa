/**
 * Delivery decisions with fake broker targets (real publisher, real breakers, real router): an
 * open breaker rejects without calling the adapter, spools or fails over as the route says; caller
 * errors never trip a breaker; a mirror secondary's failure never changes the answer.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  AdapterError,
  silentLogger,
  type AdapterErrorCode,
  type BrokerAdapter,
  type MessageEnvelope,
  type PublishResult,
} from '../../adapters/core/index.js';
import { createRetryPolicy } from '../../adapters/reliability/retry.js';
import { createTargetBreakers, type TargetBreakers } from '../../adapters/reliability/breaker/index.js';
import type { RouteConfig } from '../config/schema.js';
import { createMetrics, type GatewayMetrics } from '../observability/metrics.js';
import { createRouter, type ResolvedRoute } from '../routing.js';
import type { Targets } from '../targets.js';
import { createDelivery, type DeliveryOutcome } from './delivery.js';
import { createPublisher } from './publisher.js';

type Behaviour = 'ok' | AdapterErrorCode | 'hang';

interface FakeTarget {
  behaviour: Behaviour;
  calls: number;
  published: string[];
  connected: boolean;
}

const BREAKER = {
  errorThresholdPercentage: 50,
  volumeThreshold: 2,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  resetTimeoutMs: 60_000,
};

function envelope(i: number, key?: string): MessageEnvelope {
  return {
    id: `m-${i}`,
    tenant: 'dev',
    topic: 't.x',
    destination: 't.x',
    ...(key === undefined ? {} : { key }),
    payload: new Uint8Array([1, 2, 3]),
    contentType: 'application/json',
    headers: {},
    createdAt: 0,
  };
}

function setup(route: Partial<RouteConfig>, names = ['a', 'b']) {
  const fakes: Record<string, FakeTarget> = Object.fromEntries(
    names.map((n) => [n, { behaviour: 'ok' as Behaviour, calls: 0, published: [], connected: true }]),
  );
  const adapter = (name: string): BrokerAdapter =>
    ({
      kind: 'fake',
      target: name,
      capabilities: { maxMessageBytes: 1_000_000, maxDestinationLength: 255 },
      async publish(batch: readonly MessageEnvelope[]): Promise<PublishResult[]> {
        const fake = fakes[name]!;
        fake.calls++;
        if (fake.behaviour === 'hang') return new Promise(() => {});
        if (fake.behaviour !== 'ok') throw new AdapterError(fake.behaviour, `${name} says ${fake.behaviour}`);
        fake.published.push(...batch.map((e) => e.id));
        return batch.map((e) => ({ ok: true, receipt: { messageId: e.id, broker: 'fake', target: name } }));
      },
    }) as unknown as BrokerAdapter;
  const adapters = Object.fromEntries(names.map((n) => [n, adapter(n)]));
  const targets = {
    get: (name: string) => adapters[name]!,
    names: () => names,
    connected: (name: string) => fakes[name]!.connected,
  } as unknown as Targets;
  const metrics: GatewayMetrics = createMetrics();
  breakers = createTargetBreakers(Object.fromEntries(names.map((n) => [n, BREAKER])));
  const publisher = createPublisher({ targets, metrics, breakers });
  const appended: { id: string; target: string; key?: string }[] = [];
  const delivery = createDelivery({
    publisher,
    outbox: {
      async append(items) {
        appended.push(
          ...items.map((m) => ({
            id: m.envelope.id,
            target: m.target,
            ...(m.envelope.key === undefined ? {} : { key: m.envelope.key }),
          })),
        );
        return { kind: 'appended' };
      },
      // Every appended row stays queued (no relay here) until the test empties `appended`.
      async queuedKeys(target, keys) {
        return new Set(keys.filter((k) => appended.some((a) => a.target === target && a.key === k)));
      },
      recordStatus() {},
    },
    relay: { wake() {} },
    retry: createRetryPolicy({ maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 }),
    metrics,
    logger: silentLogger,
    crash: { hit() {} },
    now: Date.now,
    publishTimeoutMs: 2_000,
    retryAfterSeconds: 1,
  });
  const config = {
    topic: 't.*',
    degrade: 'reject',
    delivery: 'sync',
    ...route,
  } as unknown as RouteConfig;
  const resolved = createRouter([config]).resolve('t.x')!;
  const send = (envs: MessageEnvelope[], mode: 'sync' | 'async' = 'sync') =>
    delivery.deliver(resolved, envs, mode, AbortSignal.timeout(2_000));
  const trip = async (target: string, code: AdapterErrorCode = 'ADP_ERR_UNAVAILABLE') => {
    const before = fakes[target]!.behaviour;
    fakes[target]!.behaviour = code;
    for (let i = 0; i < 4 && breakers!.state(target) !== 'open'; i++) {
      await publisher.attempt(target, [envelope(900 + i)], AbortSignal.timeout(1000));
    }
    fakes[target]!.behaviour = before;
    assert.equal(breakers!.state(target), 'open');
  };
  return { fakes, send, trip, appended, metrics, delivery, resolved, publisher };
}

let breakers: TargetBreakers | undefined;
afterEach(() => breakers?.close());
// Backoff sleeps and deadlines use unref'd timers; keep the loop alive while a test awaits them.
let keepAlive: NodeJS.Timeout | undefined;
before(() => (keepAlive = setInterval(() => {}, 1000)));
after(() => clearInterval(keepAlive));

async function metricValue(metrics: GatewayMetrics, name: string, labels: Record<string, string>) {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  );
  return value?.value ?? 0;
}

describe('delivery: degradation', () => {
  it('breaker open + degrade reject → unavailable at once, the adapter is not called', async () => {
    const { fakes, send, trip, metrics } = setup({ target: 'a' });
    await trip('a');
    const calls = fakes.a!.calls;
    const started = performance.now();
    const [outcome] = await send([envelope(1)]);
    const elapsed = performance.now() - started;
    assert.equal(outcome!.kind, 'unavailable');
    const open = outcome as Extract<DeliveryOutcome, { kind: 'unavailable' }>;
    assert.equal(open.reason, 'breaker-open');
    assert.equal(open.target, 'a');
    assert.ok(open.retryAfterMs > 50_000 && open.retryAfterMs <= 60_000);
    assert.equal(fakes.a!.calls, calls, 'the adapter was called while the breaker is open');
    assert.ok(elapsed < 20, `took ${elapsed} ms`);
    assert.equal(await metricValue(metrics, 'pubgate_degraded_total', { action: 'reject' }), 1);
  });

  it('a target that never connected is unavailable without a call', async () => {
    const { fakes, send } = setup({ target: 'a' });
    fakes.a!.connected = false;
    const [outcome] = await send([envelope(1)]);
    assert.equal(outcome!.kind, 'unavailable');
    assert.equal((outcome as { reason: string }).reason, 'not-connected');
    assert.equal(fakes.a!.calls, 0);
  });

  it('breaker open + degrade spool → queued into the outbox for the target, no call', async () => {
    const { fakes, send, trip, appended } = setup({ target: 'a', degrade: 'spool' });
    await trip('a');
    const calls = fakes.a!.calls;
    const outcomes = await send([envelope(1), envelope(2)]);
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['queued', 'queued'],
    );
    assert.deepEqual(appended, [
      { id: 'm-1', target: 'a' },
      { id: 'm-2', target: 'a' },
    ]);
    assert.equal(fakes.a!.calls, calls);
  });

  it('broker failing after retries + degrade spool → queued', async () => {
    const { fakes, send, appended } = setup({ target: 'a', degrade: 'spool' });
    fakes.a!.behaviour = 'ADP_ERR_TIMEOUT';
    const [outcome] = await send([envelope(1)]);
    assert.equal(outcome!.kind, 'queued');
    assert.deepEqual(appended, [{ id: 'm-1', target: 'a' }]);
  });

  it('spool route: a key with spooled messages is queued behind them, with the target healthy again', async () => {
    const outage = setup({ target: 'a', degrade: 'spool' });
    await outage.trip('a');
    assert.deepEqual(
      (await outage.send([envelope(1, 'k1'), envelope(2, 'k2')])).map((o) => o.kind),
      ['queued', 'queued'],
    );
    breakers!.close();
    // The outage is over (a healthy target, breaker closed), but k1 and k2 still have queued rows:
    // of a batch of k1, k3 (never spooled) and a keyless message, k1 joins the queue, the others go.
    const { fakes, send, appended, metrics } = setup({ target: 'a', degrade: 'spool' });
    appended.push(...outage.appended);
    const outcomes = await send([envelope(3, 'k1'), envelope(4, 'k3'), envelope(5)]);
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['queued', 'confirmed', 'confirmed'],
    );
    assert.deepEqual(fakes.a!.published, ['m-4', 'm-5']);
    assert.deepEqual(
      appended.map((a) => a.id),
      ['m-1', 'm-2', 'm-3'],
    );
    assert.equal(await metricValue(metrics, 'pubgate_degraded_total', { action: 'queue-behind-key' }), 1);
  });

  it('reject route: keys are not held back (nothing of a reject route is ever spooled)', async () => {
    const { fakes, send, appended } = setup({ target: 'a', degrade: 'reject' });
    appended.push({ id: 'm-0', target: 'a', key: 'k1' });
    const [outcome] = await send([envelope(1, 'k1')]);
    assert.equal(outcome!.kind, 'confirmed');
    assert.deepEqual(fakes.a!.published, ['m-1']);
  });

  it('breaker open + degrade failover → the next target confirms (its receipt)', async () => {
    const { fakes, send, trip, metrics } = setup({ failover: ['a', 'b'], degrade: 'failover' });
    await trip('a');
    const [outcome] = await send([envelope(1)]);
    assert.equal(outcome!.kind, 'confirmed');
    assert.equal((outcome as { receipt: { target: string } }).receipt.target, 'b');
    assert.deepEqual(fakes.b!.published, ['m-1']);
    assert.equal(await metricValue(metrics, 'pubgate_degraded_total', { action: 'failover' }), 1);
  });

  it('failover also when the first target fails retriably after its retries', async () => {
    const { fakes, send } = setup({ failover: ['a', 'b'], degrade: 'failover' });
    fakes.a!.behaviour = 'ADP_ERR_UNAVAILABLE';
    const [outcome] = await send([envelope(1)]);
    assert.equal(outcome!.kind, 'confirmed');
    assert.equal(fakes.a!.calls, 2, 'two attempts on a (maxAttempts 2), then b');
    assert.deepEqual(fakes.b!.published, ['m-1']);
  });

  it('no failover for caller errors: too large stays a failure on the first target', async () => {
    const { fakes, send } = setup({ failover: ['a', 'b'], degrade: 'failover' });
    fakes.a!.behaviour = 'ADP_ERR_TOO_LARGE';
    const [outcome] = await send([envelope(1)]);
    assert.equal(outcome!.kind, 'failed');
    assert.equal((outcome as { target: string }).target, 'a');
    assert.equal(fakes.b!.calls, 0);
  });

  it('every target down → the last one answers', async () => {
    const { fakes, send, trip } = setup({ failover: ['a', 'b'], degrade: 'failover' });
    await trip('a');
    await trip('b');
    const [outcome] = await send([envelope(1)]);
    assert.equal(outcome!.kind, 'unavailable');
    assert.equal((outcome as { target: string }).target, 'b');
    assert.equal(fakes.b!.published.length, 0);
  });
});

describe('delivery: breakers count broker faults only', () => {
  for (const code of ['ADP_ERR_TOO_LARGE', 'ADP_ERR_INVALID_DESTINATION', 'ADP_ERR_UNROUTABLE'] as const) {
    it(`${code} never opens the breaker`, async () => {
      const { fakes, send } = setup({ target: 'a' });
      fakes.a!.behaviour = code;
      for (let i = 0; i < 10; i++) {
        const [outcome] = await send([envelope(i)]);
        assert.equal(outcome!.kind, 'failed');
      }
      assert.equal(breakers!.state('a'), 'closed');
      assert.equal(fakes.a!.calls, 10);
    });
  }

  it('ADP_ERR_UNAVAILABLE opens it (volume 2, 50 %)', async () => {
    const { fakes, send } = setup({ target: 'a' });
    fakes.a!.behaviour = 'ADP_ERR_UNAVAILABLE';
    await send([envelope(1)]);
    assert.equal(breakers!.state('a'), 'open');
  });
});

describe('delivery: strategies', () => {
  it('mirror: the primary answers; a failing secondary is counted, not returned', async () => {
    const { fakes, send, metrics, delivery } = setup({ mirror: { primary: 'a', secondaries: ['b'] } });
    fakes.b!.behaviour = 'ADP_ERR_UNAVAILABLE';
    const [outcome] = await send([envelope(1)]);
    assert.equal(outcome!.kind, 'confirmed');
    assert.equal((outcome as { receipt: { target: string } }).receipt.target, 'a');
    await delivery.drain(1000);
    assert.equal(
      await metricValue(metrics, 'pubgate_mirror_publish_total', {
        target: 'b',
        outcome: 'ADP_ERR_UNAVAILABLE',
      }),
      1,
    );
  });

  it('mirror: a hanging secondary does not delay the answer', async () => {
    const { fakes, send } = setup({ mirror: { primary: 'a', secondaries: ['b'] } });
    fakes.b!.behaviour = 'hang';
    const started = performance.now();
    const [outcome] = await send([envelope(1)]);
    assert.equal(outcome!.kind, 'confirmed');
    assert.ok(performance.now() - started < 500);
  });

  it('mirror: both targets get the message with the same id', async () => {
    const { fakes, send, delivery } = setup({ mirror: { primary: 'a', secondaries: ['b'] } });
    await send([envelope(1), envelope(2)]);
    await delivery.drain(1000);
    assert.deepEqual(fakes.a!.published, ['m-1', 'm-2']);
    assert.deepEqual(fakes.b!.published, ['m-1', 'm-2']);
  });

  it('split: a batch is grouped by chosen target; keyed messages stick to one target', async () => {
    const { fakes, send } = setup({ split: { a: 50, b: 50 } });
    const envs = Array.from({ length: 40 }, (_, i) => envelope(i, `key-${i % 4}`));
    const outcomes = await send(envs);
    assert.ok(outcomes.every((o) => o.kind === 'confirmed'));
    assert.ok(fakes.a!.calls <= 1 && fakes.b!.calls <= 1, 'one adapter call per target');
    for (let k = 0; k < 4; k++) {
      const ids = envs.filter((e) => e.key === `key-${k}`).map((e) => e.id);
      const inA = ids.filter((id) => fakes.a!.published.includes(id)).length;
      assert.ok(inA === 0 || inA === ids.length, `key-${k} was split`);
    }
  });

  it('async: rows go into the outbox for each message’s chosen target', async () => {
    const { send, appended, resolved } = setup({ balance: { mode: 'round-robin', targets: ['a', 'b'] } });
    assert.equal((resolved as ResolvedRoute).target, 'a');
    const outcomes = await send([envelope(1), envelope(2), envelope(3)], 'async');
    assert.ok(outcomes.every((o) => o.kind === 'queued'));
    assert.deepEqual(
      appended.map((r) => r.target),
      ['a', 'b', 'a'],
    );
  });
});
