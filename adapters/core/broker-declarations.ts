/**
 * What an adapter kind tells shared code about its broker. The gateway, the policies and the
 * OpenAPI document never name a broker: they read these declarations, over every registered kind
 * (gateway/broker-facts.ts builds the unions once). A new broker declares its facts in its own
 * folder and shared code needs no change.
 */
import type { PublishReceipt } from './envelope.js';
import type { ReaderOptions } from './reader.js';
import type { CloudEventsBinding } from './wire-headers.js';

/**
 * Topic names the broker keeps for itself. No tenant may publish to or read them, whatever its
 * grants, and on every broker: a route can move to another broker by config, so a name reserved by
 * one broker is refused everywhere (403 GW_ERR_RESERVED_TOPIC).
 */
export interface ReservedTopicNames {
  /** Whose names these are and what they are for, in a few words; ends up in the refusal. */
  readonly description: string;
  /** A topic starting with one of these is reserved. Compared ignoring case. */
  readonly prefixes?: readonly string[];
  /** Exact names. Compared as written (case-sensitive). */
  readonly names?: readonly string[];
  /** For what prefixes and names cannot say: tested against the whole topic. */
  readonly patterns?: readonly RegExp[];
}

/**
 * Message header names the broker gives a meaning of its own (routing, delay, dead-lettering,
 * system properties), which a publisher must not set. Refused on every broker, like reserved
 * topics (400 GW_ERR_INVALID_HEADER). Header names are compared ignoring case.
 */
export interface ReservedHeaderNames {
  /** Whose names these are, in a few words; ends up in the refusal. */
  readonly description: string;
  readonly names: readonly string[];
  /** A header name starting with one of these is reserved. */
  readonly prefixes?: readonly string[];
}

/** The optional fields of a PublishReceipt, which only some brokers fill. */
export type ReceiptFieldName = Exclude<keyof PublishReceipt, 'messageId' | 'broker' | 'target'>;

/** The ReaderOptions besides the destination, which only some readers take. */
export type ReaderOptionName = Exclude<keyof ReaderOptions, 'destination'>;

export interface BrokerDeclarations {
  /** Absent: the broker reserves no topic name. */
  readonly reservedTopics?: ReservedTopicNames;
  /** Absent: the broker reserves no header name. */
  readonly reservedHeaders?: ReservedHeaderNames;
  /**
   * The receipt fields this broker's adapter fills, each with what it holds on this broker (the
   * OpenAPI document lists them). A field not named here is never set by this kind.
   */
  readonly receipt: Readonly<Partial<Record<ReceiptFieldName, string>>>;
  /**
   * The reader options this kind's reader takes, each with what it means on this broker (the
   * `verify` command refuses the others). Only for kinds with `createReader`.
   */
  readonly readerOptions?: Readonly<Partial<Record<ReaderOptionName, string>>>;
  /**
   * How CloudEvents attributes are named on this broker's wire (its CloudEvents protocol binding,
   * binary content mode). Absent: as envelopes carry them, `ce-<attribute>` (the HTTP binding's
   * names). Applied to every published message by withCloudEventsBinding (wire-headers.ts).
   */
  readonly cloudEvents?: CloudEventsBinding;
}
