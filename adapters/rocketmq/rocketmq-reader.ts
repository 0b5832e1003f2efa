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
 * retried every 500 ms, so the reader outlives a broker restart.
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
      STARTUP_TIMEOUT_MS,
      () => new Error(`rocketmq reader ${group} did not start within ${STARTUP_TIMEOUT_MS} ms`),
    );
  } catch (error) {
    await client.dispose(DISPOSE_TIMEOUT_MS);
    throw error;
  }

  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let wakeRetry: (() => void) | undefined;
  void (async () => {
    while (!closed) {
      try {
        const views = await client.receive(32, 30_000);
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
          await client.ack(view).catch((error: unknown) => log.debug({ err: error }, 'ack failed'));
        }
      } catch (error) {
        if (closed) break;
        // Lands here while the proxy is down (broker restart): keep polling.
        log.debug({ err: error }, 'receive failed; retrying');
        await new Promise<void>((resolve) => {
          wakeRetry = resolve;
          retryTimer = setTimeout(resolve, RETRY_DELAY_MS);
          retryTimer.unref();
        });
      }
    }
  })();

  return readerOf(buffer, async () => {
    closed = true;
    clearTimeout(retryTimer);
    wakeRetry?.();
    // A receive still long-polling ends within AWAIT_DURATION_MS on its own; not awaited.
    await client.dispose(DISPOSE_TIMEOUT_MS);
  });
}
