/**
 * The library behind `pubgate verify` (and the fault suite): resolve a topic through the config's
 * routes to its broker target and destination, read that destination back with the target kind's
 * real consumer (adapters/<kind>/<kind>-reader.ts), and analyze what arrived (analyze.ts).
 */
import type { DestinationReader, Logger } from '../../adapters/core/index.js';
import { createReader } from '../../adapters/registry.js';
import { BROKER_FACTS } from '../broker-facts.js';
import type { GatewayConfig } from '../config/schema.js';
import { createRouter } from '../routing.js';
import { analyzeDelivery, type DeliveryReport } from './analyze.js';

/**
 * Options of the topic's reader. A kind's reader takes only the options its kind declares
 * (`declarations.readerOptions` in adapters/<kind>/index.ts, which say what each means there);
 * giving another is an error, not silently ignored.
 */
export interface TopicReaderOptions {
  /** The queue to read, for kinds whose reader takes one (bound to the destination before publishing). */
  readonly queue?: string;
  /** Consumer group, for kinds whose reader takes one. Default: a new unique group. */
  readonly group?: string;
}

export interface ResolvedTopic {
  readonly target: string;
  readonly kind: string;
  readonly destination: string;
}

/** The broker target and destination a topic is published to, or an Error naming why not. */
export function resolveTopic(config: Readonly<GatewayConfig>, topic: string): ResolvedTopic {
  const resolved = createRouter(config.routes).resolve(topic);
  if (!resolved) throw new Error(`no route in the configuration matches topic "${topic}"`);
  const broker = config.brokers[resolved.target];
  if (!broker)
    throw new Error(`route for "${topic}" names broker target "${resolved.target}", which is not configured`);
  return { target: resolved.target, kind: broker.kind, destination: resolved.destination };
}

/** Starts a real consumer of the topic's destination, from its start. */
export function openTopicReader(
  config: Readonly<GatewayConfig>,
  topic: string,
  options: TopicReaderOptions,
  deps: { logger: Logger; baseDir?: string },
): Promise<DestinationReader> {
  const { target, kind, destination } = resolveTopic(config, topic);
  // A kind that declares no reader options (one without a reader, too) is left to createReader.
  const takes = BROKER_FACTS.readerOptions(kind);
  for (const option of ['queue', 'group'] as const) {
    if (takes !== undefined && options[option] !== undefined && takes[option] === undefined) {
      return Promise.reject(
        new Error(
          `the ${kind} reader of target ${target} takes no ${option} (it takes: ${Object.keys(takes).join(', ')})`,
        ),
      );
    }
  }
  return createReader(
    target,
    config.brokers[target]!,
    {
      destination,
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      ...(options.group === undefined ? {} : { group: options.group }),
    },
    deps,
  );
}

export interface VerifyOptions extends TopicReaderOptions {
  /** Ids that must have arrived; enables `lost` and `unexpected`. */
  readonly expected?: Iterable<string>;
  /** Stop reading once nothing arrived for this long. Default: 3000. */
  readonly idleMs?: number;
  /** Stop reading after this long in any case. Default: 120000. */
  readonly maxMs?: number;
}

/** Reads the topic back until it is idle and reports what arrived against what was expected. */
export async function verifyTopic(
  config: Readonly<GatewayConfig>,
  topic: string,
  options: VerifyOptions,
  deps: { logger: Logger; baseDir?: string },
): Promise<DeliveryReport> {
  const reader = await openTopicReader(config, topic, options, deps);
  try {
    await reader.waitForIdle(options.idleMs ?? 3_000, options.maxMs ?? 120_000);
    return analyzeDelivery(reader.received(), options.expected);
  } finally {
    await reader.close();
  }
}
