/**
 * Fault scenarios 2, 5, 9 and 10 of TESTING.md: the ones that need the reliability layer (durable
 * outbox, relay, idempotency keys, crash points). Same shared body as broker-faults.test.ts.
 *
 * Config used (the reliability layer's options): route `delivery: sync|async`, `degrade: spool`,
 * `stores.outbox` (sqlite, `maxMessages`), `faults.crashAt: after-outbox-write|after-broker-ack`,
 * and the `Idempotency-Key` header.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../adapters/core/index.js';
import { createReader } from '../../adapters/registry.js';
import { startBroker, stopBroker } from '../../deploy/local/brokers.js';
import { analyzeDelivery } from '../../gateway/verify/analyze.js';
import { faultBrokers } from './support/fault-brokers.js';
import { startGatewayProcess, waitForReady } from '../support/gateway-process.js';
import { reportScenario } from './support/report.js';
import { FAULT_API_KEY, gatewayConfig, runBrokerScenario, type BrokerScenario } from './support/scenario.js';

const OUTBOX_MAX_MESSAGES = 20;

type Config = Record<string, unknown>;
const withRoute = (config: Config, route: Config): Config => ({
  ...config,
  routes: (config.routes as Config[]).map((r) => ({ ...r, ...route })),
});
const withStores = (config: Config, dir: string | undefined, extra: Config = {}): Config => ({
  ...config,
  stores: { outbox: { kind: 'sqlite', path: `${dir ?? '.'}/outbox.db`, ...extra } },
});

const SCENARIOS: BrokerScenario[] = [
  {
    name: '2 stop broker 30 s, spool',
    configure: (config) => withStores(withRoute(config, { degrade: 'spool' }), undefined),
    recoveredWith: 201,
    async inject({ broker }) {
      await sleep(1_000);
      await stopBroker(broker.name, { signal: 'SIGTERM' });
      await sleep(30_000);
      await startBroker(broker.name);
    },
    check(result) {
      assert.ok((result.byOutcome['202'] ?? 0) > 0, 'requests during the outage were spooled (202)');
    },
  },
  {
    name: '5 crash after outbox write',
    warmup: false,
    headers: { prefer: 'respond-async' },
    configure: (config) => ({
      ...withStores(withRoute(config, { delivery: 'async' }), undefined),
      faults: { crashAt: 'after-outbox-write' },
    }),
    async inject({ gateway, restartGateway }) {
      const exit = await Promise.race([gateway.exited(), sleep(30_000, 'still running')]);
      assert.equal(exit, 'SIGKILL', 'the gateway killed itself at the crash point');
      await restartGateway((config) => ({ ...config, faults: { crashAt: 'none' } }));
    },
  },
  {
    name: '5 crash after broker ack',
    warmup: false,
    headers: { prefer: 'respond-async' },
    configure: (config) => ({
      ...withStores(withRoute(config, { delivery: 'async' }), undefined),
      faults: { crashAt: 'after-broker-ack' },
    }),
    async inject({ gateway, restartGateway }) {
      const exit = await Promise.race([gateway.exited(), sleep(30_000, 'still running')]);
      assert.equal(exit, 'SIGKILL', 'the gateway killed itself at the crash point');
      // The relay publishes the acked-but-unmarked message again: a duplicate by id, never a loss.
      await restartGateway((config) => ({ ...config, faults: { crashAt: 'none' } }));
    },
  },
  {
    name: '9 outbox full',
    configure: (config) =>
      withStores(withRoute(config, { degrade: 'spool' }), undefined, { maxMessages: OUTBOX_MAX_MESSAGES }),
    async inject({ broker, gateway }) {
      await sleep(1_000);
      await stopBroker(broker.name, { signal: 'SIGTERM' });
      try {
        await sleep(8_000);
        // Still down, load still running: the outbox holds at most its bound. (Over the whole run
        // more than that may be answered 202: once the broker is back the relay drains the outbox
        // while the breaker still spools new requests.)
        const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
        const queued = Number(/^pubgate_outbox_messages\{state="queued"\} (\d+)/m.exec(metrics)?.[1] ?? NaN);
        assert.ok(queued <= OUTBOX_MAX_MESSAGES, `${queued} queued in an outbox of ${OUTBOX_MAX_MESSAGES}`);
        assert.ok(queued > 0, 'requests during the outage were spooled');
      } finally {
        await startBroker(broker.name);
      }
    },
    check(result) {
      assert.ok((result.byOutcome['202'] ?? 0) > 0, 'requests were spooled (202)');
      assert.ok((result.byOutcome['503'] ?? 0) > 0, 'a full outbox answers 503, never 202');
    },
  },
];

for (const broker of faultBrokers()) {
  describe(`outbox fault scenarios: ${broker.name}`, { timeout: 30 * 60_000 }, () => {
    before(() => broker.ensure());
    for (const scenario of SCENARIOS) {
      it(scenario.name, { timeout: 8 * 60_000 }, () => runBrokerScenario(broker, scenario));
    }

    it(
      '10 fifty concurrent requests with one Idempotency-Key: one publish',
      { timeout: 2 * 60_000 },
      async () => {
        const topic = `fault.idem.${Date.now().toString(36)}${randomUUID().slice(0, 6)}`;
        await broker.prepare(topic);
        const reader = await createReader(
          'fault-reader',
          broker.direct,
          { destination: topic },
          { logger: silentLogger },
        );
        const gateway = await startGatewayProcess(
          withStores(gatewayConfig(broker, broker.endpoint), undefined),
        );
        try {
          // The broker may have been restarted by the scenario before: until the gateway's target
          // has connected it answers 503 (honestly), which is not what this scenario is about.
          await waitForReady(gateway.url);
          const key = randomUUID();
          const answers = await Promise.all(
            Array.from({ length: 50 }, () =>
              fetch(`${gateway.url}/v1/topics/${topic}/messages`, {
                method: 'POST',
                headers: {
                  authorization: `Bearer ${FAULT_API_KEY}`,
                  'content-type': 'application/json',
                  'idempotency-key': key,
                },
                body: JSON.stringify({ order: key }),
                signal: AbortSignal.timeout(15_000),
              }).then(async (response) => ({
                status: response.status,
                body: (await response.json().catch(() => ({}))) as { id?: string },
              })),
            ),
          );
          const statuses = answers.map((a) => a.status);
          assert.ok(
            statuses.every((s) => s === 201 || s === 202 || s === 409),
            `answers: ${statuses.join(',')}`,
          );
          const ids = new Set(answers.filter((a) => a.status < 300).map((a) => a.body.id));
          assert.equal(ids.size, 1, 'every 2xx answer names the same message');
          await reader.waitForCount(1, 30_000);
          await reader.waitForIdle(3_000, 30_000);
          const report = analyzeDelivery(reader.received(), [...ids] as string[]);
          reportScenario({
            broker: broker.name,
            scenario: '10 same Idempotency-Key x50',
            sent: 50,
            accepted: statuses.filter((s) => s < 300).length,
            delivered: report.distinct,
            lost: report.lost.length,
            duplicates: report.duplicates.length,
            unexpected: report.unexpected.length,
            hung: 0,
          });
          assert.equal(report.distinct, 1, 'exactly one message published');
          assert.deepEqual(report.lost, []);
          assert.deepEqual(report.unexpected, []);
        } finally {
          await gateway.dispose();
          await reader.close();
        }
      },
    );
  });
}
