import type { MessageEnvelope } from './envelope.js';

/**
 * Header names every adapter writes next to the user's headers, so any consumer of any broker can
 * read the message id (for deduplication), tenant and content type the same way.
 * Lower-case, dash-separated: valid as a header or property name on every supported broker.
 */
export const WIRE_HEADERS = {
  id: 'pubgate-id',
  tenant: 'pubgate-tenant',
  topic: 'pubgate-topic',
  contentType: 'content-type',
  key: 'pubgate-key',
  createdAt: 'pubgate-created-at',
  /**
   * Per-(tenant, topic, key) sequence number, counted by one gateway process (see
   * adapters/reliability/sequence.ts). Together with `producer` it lets a reader find gaps.
   */
  seq: 'pubgate-seq',
  /** The gateway process lifetime that counted `seq` (a random id per process start). */
  producer: 'pubgate-producer',
} as const;

const RESERVED = new Set<string>(Object.values(WIRE_HEADERS));

/** True if a user header would collide with a header the gateway writes itself. */
export function isWireHeaderName(name: string): boolean {
  return RESERVED.has(name.toLowerCase()) || name.toLowerCase().startsWith('pubgate-');
}

/** The full header map to put on the wire: user headers plus the gateway's own. */
export function toWireHeaders(envelope: MessageEnvelope): Record<string, string> {
  // Spread copies own properties as they are (a user header named `constructor` included).
  const headers: Record<string, string> = { ...envelope.headers };
  headers[WIRE_HEADERS.id] = envelope.id;
  headers[WIRE_HEADERS.tenant] = envelope.tenant;
  headers[WIRE_HEADERS.topic] = envelope.topic;
  headers[WIRE_HEADERS.contentType] = envelope.contentType;
  headers[WIRE_HEADERS.createdAt] = String(envelope.createdAt);
  if (envelope.key !== undefined) headers[WIRE_HEADERS.key] = envelope.key;
  return headers;
}

export interface WireMessage {
  id: string;
  tenant: string;
  topic: string;
  contentType: string;
  key?: string;
  createdAt: number;
  /** Sequence number within (producer, tenant, topic, key); absent on messages without one. */
  seq?: number;
  /** The gateway process lifetime that assigned `seq`. */
  producer?: string;
  /** User headers, with the gateway's own removed. */
  headers: Record<string, string>;
}

/** The reverse of toWireHeaders, for consumers (tests, the verifier). Missing fields become ''. */
export function fromWireHeaders(wire: Readonly<Record<string, string>>): WireMessage {
  // Object.fromEntries defines every name as an own property; assignment would drop `__proto__`.
  const headers = Object.fromEntries(Object.entries(wire).filter(([name]) => !RESERVED.has(name)));
  const key = wire[WIRE_HEADERS.key];
  const producer = wire[WIRE_HEADERS.producer];
  const seqText = wire[WIRE_HEADERS.seq];
  const seq = seqText !== undefined && /^\d+$/.test(seqText) ? Number(seqText) : undefined;
  return {
    id: wire[WIRE_HEADERS.id] ?? '',
    tenant: wire[WIRE_HEADERS.tenant] ?? '',
    topic: wire[WIRE_HEADERS.topic] ?? '',
    contentType: wire[WIRE_HEADERS.contentType] ?? '',
    createdAt: Number(wire[WIRE_HEADERS.createdAt] ?? 0),
    ...(key === undefined ? {} : { key }),
    ...(seq === undefined ? {} : { seq }),
    ...(producer === undefined ? {} : { producer }),
    headers,
  };
}

/**
 * Splits the sequence headers (pubgate-seq, pubgate-producer) off a stored header map: for
 * brokers that keep envelope headers as they are (the embedded one), so readers return the
 * user's headers and the sequence as fields, like fromWireHeaders does.
 */
export function splitSequenceHeaders(stored: Readonly<Record<string, string>>): {
  headers: Record<string, string>;
  seq?: number;
  producer?: string;
} {
  const { [WIRE_HEADERS.seq]: seqText, [WIRE_HEADERS.producer]: producer, ...headers } = stored;
  const seq = seqText !== undefined && /^\d+$/.test(seqText) ? Number(seqText) : undefined;
  return {
    headers,
    ...(seq === undefined ? {} : { seq }),
    ...(producer === undefined ? {} : { producer }),
  };
}

/** Approximate wire size of a message, used to refuse oversize messages before the broker does. */
export function approximateSize(envelope: MessageEnvelope): number {
  let size = envelope.payload.byteLength + (envelope.key?.length ?? 0) + 64;
  for (const [name, value] of Object.entries(toWireHeaders(envelope))) size += name.length + value.length + 4;
  return size;
}
