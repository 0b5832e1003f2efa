/**
 * Maps a config generation onto the description the served OpenAPI document is built from
 * (openapi/configured-document.ts). Field by field on purpose: only what a client may see is
 * copied — route patterns, their limits and target names, the input limits, the listener — so
 * credentials, key hashes, broker addresses, admin keys and tenant names never reach the
 * document, and a config field added later does not either until it is mapped here.
 */
import type { OpenAPIV3_1 } from 'openapi-types';
import {
  configuredOpenApiDocument,
  type ConfiguredApi,
  type ConfiguredRoute,
  type ConfiguredStrategy,
} from '../../openapi/configured-document.js';
import { BROKER_FACTS } from '../broker-facts.js';
import type { GatewayConfig, RouteConfig } from '../config/schema.js';

export interface ApiDocumentContext {
  /** The config generation the document describes. */
  readonly generation: number;
  /** The package version. */
  readonly version: string;
  /** The bound listener (its port is the real one when the config asked for port 0), once listening. */
  readonly listener?: { readonly host: string; readonly port: number };
}

function strategyOf(route: RouteConfig): ConfiguredStrategy {
  if (route.failover !== undefined) return { kind: 'failover', targets: [...route.failover] };
  if (route.split !== undefined) {
    return { kind: 'split', targets: Object.keys(route.split), weights: { ...route.split } };
  }
  if (route.mirror !== undefined) {
    return { kind: 'mirror', targets: [route.mirror.primary, ...route.mirror.secondaries] };
  }
  if (route.balance !== undefined) {
    const { mode, targets } = route.balance;
    return Array.isArray(targets)
      ? { kind: 'balance', mode, targets: [...targets] }
      : { kind: 'balance', mode, targets: Object.keys(targets), weights: { ...targets } };
  }
  return { kind: 'single', targets: route.target === undefined ? [] : [route.target] };
}

function describeRoute(route: RouteConfig): ConfiguredRoute {
  return {
    topic: route.topic,
    contentTypes: [...route.contentTypes],
    maxBodyBytes: route.maxBodyBytes,
    delivery: route.delivery,
    allowAsync: route.allowAsync,
    degrade: route.degrade,
    headers: [...route.headers],
    strategy: strategyOf(route),
    ...(route.schema?.document === undefined ? {} : { payloadSchema: route.schema.document }),
    // Only when not the default (binary), so routes that do not change it read as before.
    ...(route.cloudEvents.mode === 'binary' ? {} : { cloudEventsMode: route.cloudEvents.mode }),
  };
}

export function describeApi(config: Readonly<GatewayConfig>, context: ApiDocumentContext): ConfiguredApi {
  const { limits } = config;
  return {
    version: context.version,
    generation: context.generation,
    // Behind a proxy the listener is not what clients reach: the document then says `/`.
    ...(context.listener && !config.server.trustProxy ? { listener: context.listener } : {}),
    limits: {
      maxTopicLength: limits.maxTopicLength,
      maxBatchMessages: limits.maxBatchMessages,
      maxJsonDepth: limits.maxJsonDepth,
      maxHeaders: limits.maxHeaders,
      maxHeaderNameLength: limits.maxHeaderNameLength,
      maxHeaderValueLength: limits.maxHeaderValueLength,
      maxKeyLength: limits.maxKeyLength,
    },
    routes: config.routes.map(describeRoute),
    // Every registered kind, not only the configured ones: like the reserved names, what the
    // document says does not change when a route moves to another broker.
    brokers: {
      kinds: [...BROKER_FACTS.kinds],
      receiptFields: Object.fromEntries(
        [...BROKER_FACTS.receiptFields].map(([field, kinds]) => [
          field,
          kinds.map((entry) => ({ ...entry })),
        ]),
      ),
    },
  };
}

/** The document GET /openapi.json serves for this config generation. */
export function apiDocument(
  config: Readonly<GatewayConfig>,
  context: ApiDocumentContext,
): OpenAPIV3_1.Document {
  return configuredOpenApiDocument(describeApi(config, context));
}
