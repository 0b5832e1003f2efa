import type { z } from 'zod';
import type { BrokerDeclarations } from './broker-declarations.js';
import type { AdapterError } from './errors.js';
import type { MessageEnvelope, PublishReceipt } from './envelope.js';
import type { Logger } from './logger.js';
import type { CreateReader } from './reader.js';

/**
 * What a broker can do, declared by its adapter (never guessed from its name). Shared code and the
 * contract suite branch on these, so a new broker with the same abilities needs no new branches.
 */
export interface Capabilities {
  /** 'per-key': messages with the same key are delivered in publish order. 'none': no guarantee. */
  readonly ordering: 'per-key' | 'none';
  /** The broker delays delivery natively until `deliverAt`. */
  readonly delay: boolean;
  /** The broker offers transactional publishes. */
  readonly transactions: boolean;
  /** The broker drops producer retries itself (an idempotent producer). */
  readonly nativeIdempotence: boolean;
  /** Largest message (payload + headers, approximately) the broker accepts. Checked before sending. */
  readonly maxMessageBytes: number;
  /** Longest destination name the broker accepts. */
  readonly maxDestinationLength: number;
  /** The adapter can read its messages back (see ReadableAdapter). */
  readonly readable: boolean;
}

/** One message's outcome. Expected failures are values, not rejections (house habit 3). */
export type PublishResult =
  | { readonly ok: true; readonly receipt: PublishReceipt }
  | { readonly ok: false; readonly error: AdapterError };

export interface PublishOptions {
  /** Aborts waiting for the broker. The message may still have been written (ambiguous). */
  readonly signal: AbortSignal;
}

export interface HealthReport {
  readonly ok: boolean;
  readonly detail?: string;
}

/**
 * The contract every broker implements. Kept deliberately small; extra abilities are separate
 * optional interfaces (ReadableAdapter) announced through `capabilities`.
 */
export interface BrokerAdapter {
  readonly kind: string;
  /** The configured target name this adapter serves. */
  readonly target: string;
  readonly capabilities: Capabilities;
  /** Connects (or starts connecting). Resolves once the adapter can publish; rejects with AdapterError. */
  connect(signal?: AbortSignal): Promise<void>;
  /**
   * Publishes a batch and resolves with one result per message, in input order, each after the
   * broker's durable confirm (or its failure). Rejects only with an AdapterError when the whole batch
   * failed the same way before any per-message outcome was known.
   */
  publish(batch: readonly MessageEnvelope[], options: PublishOptions): Promise<PublishResult[]>;
  health(): Promise<HealthReport>;
  /** Idempotent. Waits for in-flight publishes to settle, then releases every resource. */
  close(): Promise<void>;
}

export interface StoredMessage {
  readonly id: string;
  readonly tenant: string;
  readonly topic: string;
  readonly key?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly contentType: string;
  readonly payload: Uint8Array;
  readonly offset: string;
  readonly createdAt: number;
  /** The gateway's sequence number and producer id (pubgate-seq / pubgate-producer), when stamped. */
  readonly seq?: number;
  readonly producer?: string;
}

export interface ReadOptions {
  /** First offset to return (inclusive). */
  readonly from: bigint;
  readonly limit: number;
}

/** Optional ability: read back what was published (the embedded broker offers it over HTTP). */
export interface ReadableAdapter extends BrokerAdapter {
  read(destination: string, options: ReadOptions): Promise<StoredMessage[]>;
}

export function isReadable(adapter: BrokerAdapter): adapter is ReadableAdapter {
  return adapter.capabilities.readable && typeof (adapter as Partial<ReadableAdapter>).read === 'function';
}

/** What every adapter factory receives besides its own config. */
export interface AdapterDeps {
  readonly logger: Logger;
  /** Injected clock so tests control time. Defaults to Date.now. */
  readonly now?: () => number;
  /** Base directory that relative paths in the adapter's config resolve against. */
  readonly baseDir?: string;
  /**
   * On a live reload that changes a target's settings: the adapter of the same target this one
   * replaces. It keeps serving until the new one is connected and swapped in, and is closed once
   * the requests still using it have finished. A kind whose new adapter cannot run beside the old
   * one (the embedded broker: one process owns its file) takes over from it instead of waiting
   * for it to close. Other kinds ignore it.
   */
  readonly replaces?: BrokerAdapter;
}

/**
 * An adapter kind as the registry knows it: its config schema (a strict zod object whose `kind`
 * is a literal), its factory, and what it declares about its broker. The gateway builds its config
 * union from these, and reads the declarations wherever it would otherwise name a broker.
 */
export interface AdapterKind<Config extends { kind: string } = { kind: string }> {
  readonly kind: Config['kind'];
  readonly configSchema: z.ZodType<Config>;
  create(target: string, config: Config, deps: AdapterDeps): BrokerAdapter;
  /** Reserved topic and header names, receipt fields, reader options (see broker-declarations.ts). */
  readonly declarations: BrokerDeclarations;
  /**
   * Optional: a real consumer of one destination from its start (see reader.ts), for the verifier
   * and the tests. Kinds without it cannot be verified by reading back.
   */
  readonly createReader?: CreateReader<Config>;
}

/**
 * Declares an adapter kind while keeping the exact zod schema type, which the gateway's config
 * union (z.discriminatedUnion on `kind`) needs.
 */
export function defineAdapterKind<
  Config extends { kind: string },
  Schema extends z.ZodType<Config> = z.ZodType<Config>,
>(
  kind: AdapterKind<Config> & { readonly configSchema: Schema },
): AdapterKind<Config> & { readonly configSchema: Schema } {
  return kind;
}
