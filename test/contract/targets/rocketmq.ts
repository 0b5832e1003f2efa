/**
 * Contract target for the RocketMQ adapter: the real proxy (gRPC 127.0.0.1:8081) started by
 * deploy/local, a fresh topic per case, and a real SimpleConsumer (receive + ack) per destination.
 *
 * The suite runs twice (see rocketmq.contract.test.ts): with `fifo: false` on NORMAL topics (the
 * default configuration, ordering 'none') and with `fifo: true` on FIFO topics (ordering 'per-key',
 * so the ordering case runs). A FIFO topic refuses NORMAL messages and vice versa, so one adapter
 * cannot cover both kinds of topic.
 */
import { randomBytes } from 'node:crypto';
import { createRocketTopic, ensureBrokers, restartBroker } from '../../../deploy/local/brokers.js';
import {
  fromWireHeaders,
  silentLogger,
  type BrokerAdapter,
  type Logger,
} from '../../../adapters/core/index.js';
import { rocketMqConfigSchema, type RocketMqConfig } from '../../../adapters/rocketmq/config.js';
import { addressFor } from '../../../adapters/rocketmq/destination.js';
import { GuardedSimpleConsumer, clientLogger } from '../../../adapters/rocketmq/guarded-client.js';
import { createRocketMqAdapter } from '../../../adapters/rocketmq/rocketmq-adapter.js';
import { fromRocketMqProperties } from '../../../adapters/rocketmq/wire-properties.js';
import type { ConsumedMessage, ContractTarget, DestinationOptions, TestConsumer } from '../target.js';

const ENDPOINTS = '127.0.0.1:8081';
/** Long-poll of one receive call. The proxy's minimum is 5 s; messages end it early. */
const AWAIT_DURATION_MS = 5_000;
const CONSUMER_STARTUP_TIMEOUT_MS = 30_000;

export interface RocketMqTargetOptions {
  /** Run the adapter with `fifo: true` against FIFO topics. Default: false (NORMAL topics). */
  readonly fifo?: boolean;
}

/** Warnings and errors of the adapter on stderr (set PUBGATE_TEST_LOG=debug|info for more). */
function testLogger(): Logger {
  const levels = ['debug', 'info', 'warn', 'error'];
  const threshold = levels.indexOf(process.env.PUBGATE_TEST_LOG ?? 'warn');
  if (threshold < 0) return silentLogger;
  const make =
    (level: string, bindings: Record<string, unknown>) =>
    (fields: object, message?: string): void => {
      if (levels.indexOf(level) < threshold) return;
      const err = (fields as { err?: unknown }).err;
      const extra = err instanceof Error ? { err: err.message } : {};
      process.stderr.write(`${JSON.stringify({ level, msg: message, ...bindings, ...fields, ...extra })}\n`);
    };
  const build = (bindings: Record<string, unknown>): Logger => ({
    debug: make('debug', bindings),
    info: make('info', bindings),
    warn: make('warn', bindings),
    error: make('error', bindings),
    child: (more) => build({ ...bindings, ...more }),
  });
  return build({});
}

export function createRocketMqTarget(options: RocketMqTargetOptions = {}): ContractTarget {
  const fifo = options.fifo ?? false;
  const mode = fifo ? 'fifo' : 'normal';
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const logger = testLogger();
  const config: RocketMqConfig = rocketMqConfigSchema.parse({ kind: 'rocketmq', endpoints: ENDPOINTS, fifo });
  let counter = 0;
  const consumers = new Set<TestConsumer>();

  return {
    name: `rocketmq (${fifo ? 'fifo: true, FIFO topics' : 'fifo: false, NORMAL topics'})`,

    async setup() {
      await ensureBrokers(['rocketmq']);
    },

    createAdapter(): BrokerAdapter {
      counter += 1;
      return createRocketMqAdapter(`contract-rocketmq-${mode}-${counter}`, config, { logger });
    },

    async freshDestination(_options?: DestinationOptions): Promise<string> {
      // Dots on purpose: the adapter maps them to '_' (topicNameMapping: replace), so this also
      // checks that the topic it publishes to is the one created here.
      counter += 1;
      const destination = `contract.${runId}.${mode}.${counter}`;
      const { topic } = addressFor(destination, config);
      await createRocketTopic(topic, { messageType: fifo ? 'FIFO' : 'NORMAL' });
      return destination;
    },

    async createConsumer(_adapter: BrokerAdapter, destination: string): Promise<TestConsumer> {
      counter += 1;
      const consumer = await startConsumer(
        destination,
        `contract_${runId}_${mode}_${counter}`,
        config,
        logger,
      );
      consumers.add(consumer);
      return {
        receive: (count, timeoutMs) => consumer.receive(count, timeoutMs),
        close: async () => {
          consumers.delete(consumer);
          await consumer.close();
        },
      };
    },

    async restartBroker() {
      await restartBroker('rocketmq');
    },

    async teardown() {
      await Promise.all([...consumers].map((consumer) => consumer.close()));
      consumers.clear();
    },
  };
}

/** A SimpleConsumer on the destination's topic (and tag), receiving and acking in a loop. */
async function startConsumer(
  destination: string,
  group: string,
  config: RocketMqConfig,
  logger: Logger,
): Promise<TestConsumer> {
  const { topic, tag } = addressFor(destination, config);
  const log = logger.child({ consumer: group });
  const client = new GuardedSimpleConsumer(
    {
      endpoints: ENDPOINTS,
      namespace: '',
      consumerGroup: group,
      subscriptions: new Map([[topic, tag ?? '*']]),
      awaitDuration: AWAIT_DURATION_MS,
      requestTimeout: 3_000,
      logger: clientLogger(log, () => false),
    },
    (source, error) => log.debug({ source, err: error }, 'contained a failure inside the consumer client'),
  );
  let startupTimer: NodeJS.Timeout | undefined;
  try {
    // startup() waits for the proxy's first settings command without a deadline of its own.
    await Promise.race([
      client.startup(),
      new Promise<never>((_, reject) => {
        startupTimer = setTimeout(
          () => reject(new Error(`consumer ${group} did not start within ${CONSUMER_STARTUP_TIMEOUT_MS} ms`)),
          CONSUMER_STARTUP_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    await client.dispose(3_000);
    throw error;
  } finally {
    clearTimeout(startupTimer);
  }

  const received: ConsumedMessage[] = [];
  let wake: (() => void) | undefined;
  let closed = false;

  void (async () => {
    while (!closed) {
      try {
        const views = await client.receive(32, 30_000);
        for (const view of views) {
          const wire = fromWireHeaders(fromRocketMqProperties(view.properties));
          received.push({
            id: wire.id,
            ...(wire.key === undefined ? {} : { key: wire.key }),
            contentType: wire.contentType,
            headers: wire.headers,
            payload: new Uint8Array(view.body),
          });
          await client.ack(view).catch((error: unknown) => log.debug({ err: error }, 'ack failed'));
        }
        if (views.length > 0) wake?.();
      } catch (error) {
        if (closed) break;
        // The broker restart case lands here while the proxy is down; keep polling.
        log.debug({ err: error }, 'receive failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  })();

  return {
    async receive(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `received ${received.length} of ${count} messages from ${topic} within ${timeoutMs} ms`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 250));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return received.slice(0, count);
    },
    async close() {
      if (closed) return;
      closed = true;
      wake?.();
      // A receive still long-polling ends within AWAIT_DURATION_MS on its own; not awaited.
      await client.dispose(3_000);
    },
  };
}
