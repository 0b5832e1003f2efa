/**
 * The explicit list of adapter kinds. Adding a broker = one folder under adapters/ and one line
 * here; the gateway's config schema and factory read this list and need no change.
 */
import type { z } from 'zod';
import type { AdapterDeps, BrokerAdapter, DestinationReader, ReaderOptions } from './core/index.js';
import { embeddedAdapterKind } from './embedded/index.js';
import { kafkaAdapterKind } from './kafka/index.js';
import { natsAdapterKind } from './nats/index.js';
import { rabbitmqAdapterKind } from './rabbitmq/index.js';
import { rocketmqAdapterKind } from './rocketmq/index.js';

export const ADAPTER_KINDS = [
  embeddedAdapterKind,
  kafkaAdapterKind,
  rabbitmqAdapterKind,
  rocketmqAdapterKind,
  natsAdapterKind,
] as const;

/** The config of any registered broker kind: a union discriminated by `kind`. */
export type BrokerConfig = z.output<(typeof ADAPTER_KINDS)[number]['configSchema']>;

/** Builds the adapter for one configured broker target. */
export function createAdapter(target: string, config: BrokerConfig, deps: AdapterDeps): BrokerAdapter {
  const kind = ADAPTER_KINDS.find((k) => k.kind === config.kind);
  if (!kind) throw new Error(`broker target ${target}: unknown kind "${config.kind}"`);
  // The kind was found by the config's own discriminator, so the config is that kind's config.
  const create = kind.create as (target: string, config: BrokerConfig, deps: AdapterDeps) => BrokerAdapter;
  return create(target, config, deps);
}

/**
 * A real consumer of one destination of a configured broker target, from its start. Rejects when
 * the kind offers no reader.
 */
export function createReader(
  target: string,
  config: BrokerConfig,
  options: ReaderOptions,
  deps: AdapterDeps,
): Promise<DestinationReader> {
  const kind = ADAPTER_KINDS.find((k) => k.kind === config.kind);
  if (!kind) throw new Error(`broker target ${target}: unknown kind "${config.kind}"`);
  if (!('createReader' in kind) || kind.createReader === undefined) {
    return Promise.reject(new Error(`broker target ${target}: kind "${config.kind}" offers no reader`));
  }
  // As in createAdapter: the kind was found by the config's own discriminator.
  const create = kind.createReader as (
    config: BrokerConfig,
    options: ReaderOptions,
    deps: AdapterDeps,
  ) => Promise<DestinationReader>;
  return create(config, options, deps);
}
