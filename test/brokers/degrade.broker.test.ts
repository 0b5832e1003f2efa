/**
 * With deploy/config/degrade.yaml and RabbitMQ stopped: `spool.*` answers 202 and the message is
 * delivered after RabbitMQ returns; `failover.*` answers 201 from the embedded broker; `reject.*`
 * answers 503 + Retry-After, and once the rabbit breaker is open (pubgate_breaker_state 2 in
 * /metrics) answers without touching RabbitMQ, fast. Stops the machine's RabbitMQ: run under
 * `flock /tmp/pubgate-brokers.lock`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBroker, stopBroker } from '../../deploy/local/brokers.js';
import type { Gateway } from '../../gateway/gateway.js';
import { bindExampleQueue, withRabbitChannel } from '../support/rabbitmq.js';
import { startExampleGateway, type ExampleGateway } from '../support/gateway.js';

const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const queue = `pubgate-degrade-test-${run}`;
const HEADERS = { authorization: 'Bearer dev-key', 'content-type': 'application/json' };

async function post(url: string, topic: string, body: unknown) {
  const res = await fetch(`${url}/v1/topics/${topic}/messages`, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify(body),
  });
  return { res, json: (await res.json()) as Record<string, unknown> };
}

interface Bucket {
  le: number;
  count: number;
}

describe('degradation with RabbitMQ stopped (deploy/config/degrade.yaml)', { concurrency: false }, () => {
  let gateway: Gateway;
  let url: string;
  let running: ExampleGateway | undefined;

  before(async () => {
    // A durable queue bound for this run's topics, so they are routable and survive the restart.
    await bindExampleQueue(
      queue,
      ['spool', 'failover', 'reject'].map((prefix) => `${prefix}.${run}`),
    );
    running = await startExampleGateway('degrade.yaml');
    ({ url, gateway } = running);
  });

  after(async () => {
    // Never leave the shared broker stopped.
    await startBroker('rabbitmq').catch(() => {});
    await running?.stop();
    await withRabbitChannel((channel) => channel.deleteQueue(queue)).catch(() => {});
  });

  it('spool → 202 then delivered; failover → 201 embedded; reject → 503, fast once the breaker is open', async (t) => {
    // RabbitMQ is up: every route confirms through it.
    const warm = await post(url, `reject.${run}`, { warm: true });
    assert.equal(warm.res.status, 201, JSON.stringify(warm.json));
    const warmId = warm.json.id as string;

    let spooledId = '';
    await stopBroker('rabbitmq');
    try {
      const spooled = await post(url, `spool.${run}`, { n: 1 });
      assert.equal(spooled.res.status, 202, JSON.stringify(spooled.json));
      assert.equal(spooled.json.status, 'queued');
      spooledId = spooled.json.id as string;

      const failedOver = await post(url, `failover.${run}`, { n: 2 });
      assert.equal(failedOver.res.status, 201, JSON.stringify(failedOver.json));
      const receipt = failedOver.json.receipt as { broker: string; target: string };
      assert.equal(receipt.broker, 'embedded');
      assert.equal(receipt.target, 'local');

      // Until the breaker opens, reject answers with the broker's own 503; then GW_ERR_BREAKER_OPEN.
      let code = '';
      for (let i = 0; i < 30 && code !== 'GW_ERR_BREAKER_OPEN'; i++) {
        const { res, json } = await post(url, `reject.${run}`, { i });
        assert.equal(res.status, 503, JSON.stringify(json));
        assert.ok(Number(res.headers.get('retry-after')) >= 1);
        code = json.code as string;
      }
      assert.equal(code, 'GW_ERR_BREAKER_OPEN');
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^pubgate_breaker_state\{target="rabbit"\} 2$/m);
      assert.match(metrics, /^pubgate_breaker_transitions_total\{target="rabbit",to="open"\} [1-9]/m);

      // Open: answered without RabbitMQ. 50 requests, each well under 50 ms wall time.
      const histogram = gateway.metrics.httpDuration;
      const before = await buckets(histogram);
      const walls: number[] = [];
      for (let i = 0; i < 50; i++) {
        const started = performance.now();
        const { res, json } = await post(url, `reject.${run}`, { i });
        walls.push(performance.now() - started);
        assert.equal(res.status, 503);
        if (json.code !== 'GW_ERR_BREAKER_OPEN') {
          // The breaker's single half-open probe may land here; it fails and re-opens it.
          assert.equal(json.code, 'GW_ERR_BROKER_UNAVAILABLE');
        }
        assert.ok(Number(res.headers.get('retry-after')) >= 1);
      }
      const afterBuckets = await buckets(histogram);
      const delta = (le: number) =>
        (afterBuckets.find((b) => b.le === le)?.count ?? 0) - (before.find((b) => b.le === le)?.count ?? 0);
      const slowest = Math.max(...walls);
      t.diagnostic(
        `breaker open: 50 rejects, wall max ${slowest.toFixed(2)} ms, median ${median(walls).toFixed(2)} ms; ` +
          `server-side (pubgate_http_request_duration_seconds): ${delta(0.0005)} ≤ 0.5 ms, ${delta(0.001)} ≤ 1 ms, ${delta(0.0025)} ≤ 2.5 ms of ${delta(Infinity)}`,
      );
      assert.ok(slowest < 50, `slowest reject took ${slowest} ms`);
      assert.match(
        await (await fetch(`${url}/metrics`)).text(),
        /^pubgate_breaker_state\{target="rabbit"\} 2$/m,
      );
    } finally {
      await startBroker('rabbitmq');
    }

    // The spooled message is delivered once RabbitMQ is back (the relay probes the breaker).
    const deadline = Date.now() + 120_000;
    let state = '';
    while (Date.now() < deadline) {
      const res = await fetch(`${url}/v1/messages/${spooledId}`, { headers: HEADERS });
      state = ((await res.json()) as { status: string }).status;
      if (state === 'confirmed') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.equal(state, 'confirmed');

    const received = await withRabbitChannel(async (channel) => {
      const seen: string[] = [];
      const end = Date.now() + 10_000;
      while (!seen.includes(spooledId) && Date.now() < end) {
        const message = await channel.get(queue, { noAck: true });
        if (message === false) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        seen.push(String(message.properties.headers?.['pubgate-id']));
      }
      return seen;
    });
    assert.ok(received.includes(spooledId), `queue had ${received.join(', ')}`);
    assert.ok(received.includes(warmId));
  });
});

async function buckets(histogram: Gateway['metrics']['httpDuration']): Promise<Bucket[]> {
  const { values } = await histogram.get();
  return values
    .filter(
      (v) =>
        v.metricName === 'pubgate_http_request_duration_seconds_bucket' &&
        v.labels.route === '/v1/topics/:topic/messages' &&
        v.labels.method === 'POST',
    )
    .map((v) => {
      const le = (v.labels as Record<string, string | number>).le;
      return { le: le === '+Inf' ? Infinity : Number(le), count: v.value };
    });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
