/**
 * With deploy/config/rabbitmq.yaml and RabbitMQ stopped, 20 publishes with `Prefer: respond-async`
 * get 202; after RabbitMQ returns, all 20 reach `confirmed` and a consumer of a bound queue reads
 * all 20 ids. Stops the machine's RabbitMQ: run under `flock /tmp/pubgate-brokers.lock`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBroker, stopBroker } from '../../deploy/local/brokers.js';
import { bindExampleQueue, withRabbitChannel } from '../support/rabbitmq.js';
import { startExampleGateway, type ExampleGateway } from '../support/gateway.js';

const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const topic = `outbox.must-show.${run}`;
const queue = `pubgate-outbox-test-${run}`;

describe('outbox with RabbitMQ stopped (deploy/config/rabbitmq.yaml)', { concurrency: false }, () => {
  let url: string;
  let running: ExampleGateway | undefined;

  before(async () => {
    // A durable queue bound to the example's exchange, so the messages are routable and survive the restart.
    await bindExampleQueue(queue, [topic]);
    running = await startExampleGateway('rabbitmq.yaml');
    ({ url } = running);
  });

  after(async () => {
    // Never leave the shared broker stopped.
    await startBroker('rabbitmq').catch(() => {});
    await running?.stop();
    await withRabbitChannel((channel) => channel.deleteQueue(queue)).catch(() => {});
  });

  it('20 async publishes while RabbitMQ is down get 202, then all are confirmed and in the queue', async () => {
    const ids: string[] = [];
    await stopBroker('rabbitmq');
    try {
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${url}/v1/topics/${topic}/messages`, {
          method: 'POST',
          headers: {
            authorization: 'Bearer dev-key',
            'content-type': 'application/json',
            prefer: 'respond-async',
            'message-key': `k${i % 3}`,
          },
          body: JSON.stringify({ i }),
        });
        const body = (await res.json()) as { id: string; status: string };
        assert.equal(res.status, 202, JSON.stringify(body));
        assert.equal(body.status, 'queued');
        assert.equal(res.headers.get('preference-applied'), 'respond-async');
        ids.push(body.id);
      }
    } finally {
      await startBroker('rabbitmq');
    }

    const deadline = Date.now() + 120_000;
    let states: string[] = [];
    while (Date.now() < deadline) {
      states = await Promise.all(
        ids.map(async (id) => {
          const res = await fetch(`${url}/v1/messages/${id}`, {
            headers: { authorization: 'Bearer dev-key' },
          });
          return ((await res.json()) as { status: string }).status;
        }),
      );
      if (states.every((s) => s === 'confirmed')) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.deepEqual(
      states,
      ids.map(() => 'confirmed'),
    );

    const received = await withRabbitChannel(async (channel) => {
      const seen: string[] = [];
      const end = Date.now() + 10_000;
      while (seen.length < ids.length && Date.now() < end) {
        const message = await channel.get(queue, { noAck: true });
        if (message === false) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        seen.push(String(message.properties.headers?.['pubgate-id']));
      }
      return seen;
    });
    assert.deepEqual(new Set(received), new Set(ids));
  });
});
