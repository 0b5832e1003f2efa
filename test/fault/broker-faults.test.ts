/**
 * Fault scenarios 1, 3, 4 and 6 of TESTING.md against each real broker (Kafka, RabbitMQ, RocketMQ, NATS),
 * one shared body (support/scenario.ts) per scenario; the broker is a parameter. Each prints and
 * records a report line (support/report.ts). Run under the broker lock:
 *   flock /tmp/pubgate-brokers.lock npm run test:fault
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freezeBroker, startBroker, stopBroker, thawBroker } from '../../deploy/local/brokers.js';
import { faultBrokers } from './support/fault-brokers.js';
import { FAULT_GATEWAY, runBrokerScenario, type BrokerScenario } from './support/scenario.js';

const SCENARIOS: BrokerScenario[] = [
  {
    name: '1 kill -9 broker',
    async inject({ broker }) {
      await sleep(1_000);
      await stopBroker(broker.name, { signal: 'SIGKILL' });
      await sleep(1_000);
      await startBroker(broker.name);
    },
  },
  {
    name: '3 freeze broker',
    async inject({ broker }) {
      await sleep(1_000);
      await freezeBroker(broker.name);
      try {
        // Past the publish deadline: in-flight publishes end ambiguous (503), none hangs.
        await sleep(FAULT_GATEWAY.publishTimeoutMs + 2_000);
      } finally {
        await thawBroker(broker.name);
      }
    },
  },
  {
    name: '4 cut TCP via proxy',
    async inject({ proxy, load }) {
      await sleep(1_000);
      // Mid-burst: every live connection gets a RST. The gateway's client must have been talking
      // through the proxy, or this scenario would prove nothing.
      // Publishes, not just a heartbeat: at least 100 bytes upstream per message so far.
      const { bytesUp } = proxy.stats();
      assert.ok(
        bytesUp >= 100 * Math.max(1, load.acceptedCount()),
        `only ${bytesUp} bytes went through the fault proxy for ${load.acceptedCount()} accepted messages: the client bypasses it`,
      );
      const cut = proxy.reset();
      assert.ok(cut > 0, 'the gateway had no live connection through the fault proxy to cut');
      proxy.drop(); // and reconnects are refused for a while
      await sleep(Number(process.env.CUT_MS ?? 3_000));
      proxy.reset();
      proxy.heal();
    },
  },
  {
    name: '6 SIGTERM gateway',
    stopsGateway: true,
    async inject({ gateway }) {
      await sleep(2_000);
      const started = Date.now();
      gateway.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        gateway.exited(),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve('still running'), FAULT_GATEWAY.shutdownTimeoutMs + 5_000);
        }),
      ]);
      clearTimeout(timer);
      assert.equal(code, 0, 'the gateway exits 0 after draining');
      assert.ok(
        Date.now() - started <= FAULT_GATEWAY.shutdownTimeoutMs + 3_000,
        `exited after ${Date.now() - started} ms; the drain timeout is ${FAULT_GATEWAY.shutdownTimeoutMs} ms`,
      );
    },
  },
];

for (const broker of faultBrokers()) {
  describe(`fault scenarios: ${broker.name}`, { timeout: 15 * 60_000 }, () => {
    before(() => broker.ensure());
    for (const scenario of SCENARIOS) {
      it(scenario.name, { timeout: 5 * 60_000 }, () => runBrokerScenario(broker, scenario));
    }
  });
}
