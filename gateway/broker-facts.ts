/**
 * What shared code needs to know about brokers, derived once from what each registered adapter
 * kind declares (adapters/<name>/index.ts, `declarations`): reserved topic and header names,
 * receipt fields, reader options. Nothing here names a broker.
 *
 * Reserved names are the union over every registered kind, whatever the configuration uses: a
 * route can move to another broker by config, so a name reserved by one broker is refused on all,
 * and publishers do not break when it moves.
 */
import type {
  BrokerDeclarations,
  CloudEventsBinding,
  ReaderOptionName,
  ReceiptFieldName,
} from '../adapters/core/index.js';
import { ADAPTER_KINDS } from '../adapters/registry.js';

/** The part of an AdapterKind this module reads. */
export interface DeclaringKind {
  readonly kind: string;
  readonly declarations: BrokerDeclarations;
}

export interface BrokerFacts {
  /** Why a topic is reserved (the declaring kind's description), or undefined when it is not. */
  reservedTopic(topic: string): string | undefined;
  /** Why a header name is reserved by a broker, or undefined when no broker reserves it. */
  reservedHeader(name: string): string | undefined;
  /** Per receipt field: the kinds that fill it and what it holds on each, in registry order. */
  readonly receiptFields: ReadonlyMap<ReceiptFieldName, readonly { kind: string; description: string }[]>;
  /**
   * The reader options a kind's reader takes (with what each means there); undefined for a kind
   * that declares none (it has no reader, or the kind is unknown).
   */
  readerOptions(kind: string): Readonly<Partial<Record<ReaderOptionName, string>>> | undefined;
  /** Every registered kind, in registry order. */
  readonly kinds: readonly string[];
  /** The CloudEvents binding a kind declares; undefined: envelope form (`ce-` headers). */
  cloudEventsBinding(kind: string): CloudEventsBinding | undefined;
}

/** Builds the facts of a list of kinds. The gateway uses ADAPTER_KINDS (BROKER_FACTS below). */
export function brokerFacts(kinds: readonly DeclaringKind[]): BrokerFacts {
  const topicRules = kinds.flatMap(({ declarations: { reservedTopics } }) => {
    if (reservedTopics === undefined) return [];
    const prefixes = (reservedTopics.prefixes ?? []).map((prefix) => prefix.toLowerCase());
    const names = new Set(reservedTopics.names ?? []);
    const patterns = reservedTopics.patterns ?? [];
    const matches = (topic: string) => {
      const lower = topic.toLowerCase();
      return (
        names.has(topic) ||
        prefixes.some((prefix) => lower.startsWith(prefix)) ||
        patterns.some((pattern) => pattern.test(topic))
      );
    };
    return [{ matches, description: reservedTopics.description }];
  });

  const headerNames = new Map<string, string>();
  const headerPrefixes: { prefix: string; description: string }[] = [];
  for (const { declarations } of kinds) {
    const reserved = declarations.reservedHeaders;
    if (reserved === undefined) continue;
    for (const name of reserved.names) {
      if (!headerNames.has(name.toLowerCase())) headerNames.set(name.toLowerCase(), reserved.description);
    }
    for (const prefix of reserved.prefixes ?? []) {
      headerPrefixes.push({ prefix: prefix.toLowerCase(), description: reserved.description });
    }
  }

  const receiptFields = new Map<ReceiptFieldName, { kind: string; description: string }[]>();
  for (const { kind, declarations } of kinds) {
    for (const [field, description] of Object.entries(declarations.receipt) as [ReceiptFieldName, string][]) {
      const entries = receiptFields.get(field) ?? [];
      entries.push({ kind, description });
      receiptFields.set(field, entries);
    }
  }

  const readerOptions = new Map(kinds.map(({ kind, declarations }) => [kind, declarations.readerOptions]));
  const bindings = new Map(kinds.map(({ kind, declarations }) => [kind, declarations.cloudEvents]));

  return {
    reservedTopic: (topic) => topicRules.find((rule) => rule.matches(topic))?.description,
    reservedHeader(name) {
      const lower = name.toLowerCase();
      return (
        headerNames.get(lower) ?? headerPrefixes.find(({ prefix }) => lower.startsWith(prefix))?.description
      );
    },
    receiptFields,
    readerOptions: (kind) => readerOptions.get(kind),
    kinds: kinds.map(({ kind }) => kind),
    cloudEventsBinding: (kind) => bindings.get(kind),
  };
}

/** The facts of the registered kinds. */
export const BROKER_FACTS: BrokerFacts = brokerFacts(ADAPTER_KINDS);

/** True for a topic some registered broker keeps for itself. */
export function isReservedTopic(topic: string): boolean {
  return BROKER_FACTS.reservedTopic(topic) !== undefined;
}
