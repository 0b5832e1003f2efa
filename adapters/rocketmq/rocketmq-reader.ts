/**
 * A real RocketMQ consumer of one destination: a SimpleConsumer (receive + ack) on the
 * destination's topic (and tag, as the adapter maps it), through the same gRPC proxy the adapter
 * uses. Used by the verifier and the tests to read back what the gateway published.
 *
 * Where a group starts: a consumer group's position is set the first time it receives from a
 * queue. The broker starts a NEW group at the queue's first message only while that message is
 * still in its memory (a young topic: fresh test and verification topics); otherwise at the end.
 * So to read back reliably, create the reader (or a reader with the same `group`) BEFORE
 * publishing, as the contract suite and the fault suite do; a later reader with that group
 * continues where the group is.
 *
 * Reading consumes for that group (each message is acked). Failures while the proxy is down are
 * retried every 500 ms; once they have lasted FRESH_CLIENT_AFTER_MS the client is replaced by a new
 * one of the same group (a fresh gRPC channel: the old one may sit out grpc-js's reconnect backoff,
 * up to two minutes, long after the broker is back). So the reader outlives a broker restart and
 * resumes where its group was.
 */
import { randomBytes } from 'node:crypto';
import {
  createReadBuffer,
  readerOf,
  fromWireHeaders,
  withDeadline,
  type AdapterDeps,
  type DestinationReader,
  type ReaderOptions,
} from '../core/index.js';
import type { RocketMqConfig } from './config.js';
import { addressFor } from './destination.js';
import { GuardedSimpleConsumer, baseClientOptions, clientLogger } from './guarded-client.js';
import { fromRocketMqProperties } from './wire-properties.js';

/** Long-poll of one receive call. The proxy's minimum is 5 s; messages end it early. */
const AWAIT_DURATION_MS = 5_000;
const STARTUP_TIMEOUT_MS = 30_000;
const RETRY_DELAY_MS = 500;
/** Failing receives for this long: replace the client. */
const FRESH_CLIENT_AFTER_MS = 3_000;
/** Deadline of a replacement client's startup (the proxy may still be coming up). */
const RESTART_TIMEOUT_MS = 10_000;
const DISPOSE_TIMEOUT_MS = 3_000;

export async function createRocketMqReader(
  config: RocketMqConfig,
  options: ReaderOptions,
  deps: AdapterDeps,
): Promise<DestinationReader> {
  const { topic, tag } = addressFor(options.destination, config);
  // RocketMQ group names allow [A-Za-z0-9_-] only.
  const group =
    options.group ?? `pubgate_reader_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const log = deps.logger.child({ reader: group, topic });
  const buffer = createReadBuffer(`rocketmq reader of ${topic} (group ${group})`);
  let closed = false;
  const startClient = async (deadlineMs: number): Promise<GuardedSimpleConsumer> => {
    const client = new GuardedSimpleConsumer(
      {
        ...baseClientOptions(config),
        consumerGroup: group,
        subscriptions: new Map([[topic, tag ?? '*']]),
        awaitDuration: AWAIT_DURATION_MS,
        logger: clientLogger(log, () => false),
      },
      (source, error) => log.debug({ source, err: error }, 'contained a failure inside the consumer client'),
    );
    try {
      // startup() waits for the proxy's first settings command without a deadline of its own.
      await withDeadline(
        client.startup(),
        deadlineMs,
        () => new Error(`rocketmq reader ${group} did not start within ${deadlineMs} ms`),
      );
      return client;
    } catch (error) {
      await client.dispose(DISPOSE_TIMEOUT_MS);
      throw error;
    }
  };
  let client: GuardedSimpleConsumer | undefined = await startClient(STARTUP_TIMEOUT_MS);

  let retryTimer: NodeJS.Timeout | undefined;
  let wakeRetry: (() => void) | undefined;
  const pause = () =>
    new Promise<void>((resolve) => {
      wakeRetry = resolve;
      retryTimer = setTimeout(resolve, RETRY_DELAY_MS);
      retryTimer.unref();
    });
  void (async () => {
    let failingSince: number | undefined;
    while (!closed) {
      try {
        if (!client) {
          const fresh = await startClient(RESTART_TIMEOUT_MS);
          if (closed) {
            await fresh.dispose(DISPOSE_TIMEOUT_MS);
            break;
          }
          client = fresh;
        }
        const views = await client.receive(32, 30_000);
        failingSince = undefined;
        for (const view of views) {
          const wire = fromWireHeaders(fromRocketMqProperties(view.properties));
          buffer.push({
            id: wire.id,
            tenant: wire.tenant,
            topic: wire.topic,
            ...(wire.key === undefined ? {} : { key: wire.key }),
            contentType: wire.contentType,
            headers: wire.headers,
            payload: new Uint8Array(view.body),
            ...(wire.seq === undefined ? {} : { seq: wire.seq }),
            ...(wire.producer === undefined ? {} : { producer: wire.producer }),
          });
        }
        // Acked together (one round trip of latency, not one per message); an ack that fails
        // only means the message comes again after its invisible duration (a duplicate).
        const acking = client;
        await Promise.all(
          views.map((view) =>
            acking.ack(view).catch((error: unknown) => log.debug({ err: error }, 'ack failed')),
          ),
        );
      } catch (error) {
        if (closed) break;
        // Lands here while the proxy is down (broker restart): keep polling, on a fresh client
        // once the failures have lasted a while.
        log.debug({ err: error }, 'receive failed; retrying');
        failingSince ??= Date.now();
        if (client && Date.now() - failingSince >= FRESH_CLIENT_AFTER_MS) {
          const stale = client;
          client = undefined;
          failingSince = Date.now();
          void stale.dispose(DISPOSE_TIMEOUT_MS).catch(() => undefined);
        }
        await pause();
      }
    }
  })();

  return readerOf(buffer, async () => {
    closed = true;
    clearTimeout(retryTimer);
    wakeRetry?.();
    // A receive still long-polling ends within AWAIT_DURATION_MS on its own; not awaited.
    await client?.dispose(DISPOSE_TIMEOUT_MS);
  });
}
