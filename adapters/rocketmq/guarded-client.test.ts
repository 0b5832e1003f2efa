/**
 * The crash guards around rocketmq-client-nodejs, exercised against a port where no proxy listens
 * (no broker needed). Without the guards, the write-after-release case below kills the process with
 * an unhandled 'error' event (ERR_STREAM_WRITE_AFTER_END). This file finishing at all also shows that
 * a disposed client leaves no timer or channel keeping the process alive.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { Endpoints } from 'rocketmq-client-nodejs';
import { silentLogger } from '../core/index.js';
import { classifyRocketMqError } from './classify-error.js';
import { GuardedProducer, clientLogger } from './guarded-client.js';

/** A loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

function producer(port: number, reported: Array<{ source: string; error: unknown }>): GuardedProducer {
  return new GuardedProducer(
    {
      endpoints: `127.0.0.1:${port}`,
      namespace: '',
      requestTimeout: 1_000,
      logger: clientLogger(silentLogger, () => false),
    },
    (source, error) => reported.push({ source, error }),
  );
}

describe('guarded rocketmq client', () => {
  it('pins the brokers of a route to the configured endpoints only when asked', async () => {
    const route = () =>
      ({
        messageQueues: [{ broker: { endpoints: new Endpoints('10.9.9.9:8081') } }],
      }) as unknown as Parameters<GuardedProducer['onTopicRouteDataUpdate']>[1];
    const port = await deadPort();
    const options = {
      endpoints: `127.0.0.1:${port}`,
      namespace: '',
      logger: clientLogger(silentLogger, () => false),
    };
    const pinned = new GuardedProducer(options, () => {}, { pinEndpoints: true });
    const pinnedRoute = route();
    pinned.onTopicRouteDataUpdate('t', pinnedRoute);
    assert.equal(pinnedRoute.messageQueues[0]!.broker.endpoints.facade, `127.0.0.1:${port}`);

    const advertised = new GuardedProducer(options, () => {});
    const advertisedRoute = route();
    advertised.onTopicRouteDataUpdate('t', advertisedRoute);
    assert.equal(advertisedRoute.messageQueues[0]!.broker.endpoints.facade, '10.9.9.9:8081');
    await Promise.all([pinned.dispose(1_000), advertised.dispose(1_000)]);
  });

  it('contains a write to a released telemetry stream instead of crashing', async () => {
    const port = await deadPort();
    const reported: Array<{ source: string; error: unknown }> = [];
    const client = producer(port, reported);
    await client.startup();
    const session = client.getTelemetrySession(new Endpoints(`127.0.0.1:${port}`));
    session.release();
    session.syncSettings();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(
      reported.some((r) => r.source === 'telemetry stream'),
      `expected the stream error to be reported, got ${reported.map((r) => r.source).join(', ')}`,
    );
    await client.dispose(1_000);
  });

  it('probe() fails with a gRPC UNAVAILABLE the classifier reads as not sent', async () => {
    const port = await deadPort();
    const client = producer(port, []);
    await client.startup();
    await assert.rejects(client.probe(1_000), (error: unknown) => {
      const classified = classifyRocketMqError(error);
      assert.equal(classified.code, 'ADP_ERR_UNAVAILABLE', classified.message);
      assert.equal(classified.ambiguous, false);
      return true;
    });
    await client.dispose(1_000);
  });

  it('a send to an unreachable proxy rejects (no hang, no crash) and drops the unknown topic', async () => {
    const port = await deadPort();
    const client = producer(port, []);
    await client.startup();
    await assert.rejects(client.send({ topic: 'nowhere', body: Buffer.from('x') }), (error: unknown) => {
      assert.equal(classifyRocketMqError(error).retriable, true);
      return true;
    });
    // The client had added the topic to the set it refreshes every 30 s; a failed lookup removes it.
    assert.equal((client as unknown as { topics: Set<string> }).topics.has('nowhere'), false);
    await client.dispose(1_000);
  });

  it('after dispose, the renew timer of a failed session gets an inert stream (no zombie channel)', async () => {
    const port = await deadPort();
    const reported: Array<{ source: string; error: unknown }> = [];
    const client = producer(port, reported);
    await client.startup();
    // The session's stream fails at once (nothing listens) and schedules a re-open in 1 s.
    client.getTelemetrySession(new Endpoints(`127.0.0.1:${port}`));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client.dispose(1_000);
    const stream = client.createTelemetryStream(new Endpoints(`127.0.0.1:${port}`));
    assert.equal(typeof stream.write, 'function');
    client.getTelemetrySession(new Endpoints(`127.0.0.1:${port}`)).syncSettings();
    // Wait past the 1 s renew: it must open nothing that keeps this file's process alive.
    await new Promise((resolve) => setTimeout(resolve, 1_300));
  });
});
