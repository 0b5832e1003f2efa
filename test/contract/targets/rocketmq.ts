/**
 * Contract target for the RocketMQ adapter: the real proxy (gRPC 127.0.0.1:8081) started by
 * deploy/local, a fresh topic per case, and the RocketMQ reader (a real SimpleConsumer, receive + ack)
 * per destination, created before the case publishes so its new group starts at the topic's start.
 *
 * The suite runs twice (see rocketmq.contract.test.ts): with `fifo: false` on NORMAL topics (the
 * default configuration, ordering 'none') and with `fifo: true` on FIFO topics (ordering 'per-key',
 * so the ordering case runs). A FIFO topic refuses NORMAL messages and vice versa, so one adapter
 * cannot cover both kinds of topic.
 */
import { randomBytes } from 'node:crypto';
import { createRocketTopic, ensureBrokers, restartBroker } from '../../../deploy/local/brokers.js';
import { silentLogger, type BrokerAdapter, type Logger } from '../../../adapters/core/index.js';
import { rocketMqConfigSchema, type RocketMqConfig } from '../../../adapters/rocketmq/config.js';
import { addressFor } from '../../../adapters/rocketmq/destination.js';
import { createRocketMqAdapter } from '../../../adapters/rocketmq/rocketmq-adapter.js';
import { createRocketMqReader } from '../../../adapters/rocketmq/rocketmq-reader.js';
import { consumerFromReader } from '../reader-consumer.js';
import {
  consumerTracker,
  type ContractTarget,
  type DestinationOptions,
  type TestConsumer,
} from '../target.js';

const ENDPOINTS = '127.0.0.1:8081';

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
  const consumers = consumerTracker();

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
      return consumers.track(consumer);
    },

    async restartBroker() {
      await restartBroker('rocketmq');
    },

    async teardown() {
      await consumers.closeAll();
    },
  };
}

/** The RocketMQ reader (adapters/rocketmq/rocketmq-reader.ts) in a group created before publishing. */
async function startConsumer(
  destination: string,
  group: string,
  config: RocketMqConfig,
  logger: Logger,
): Promise<TestConsumer> {
  const reader = await createRocketMqReader(config, { destination, group }, { logger });
  // Every delivery counts: the suite's exactly-once checks must see a duplicate if one arrives.
  return consumerFromReader(reader, { dropRedeliveries: false });
}
