import type { BrokerAdapter } from './adapter.js';
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

// ------------------------------------------------------------------ CloudEvents protocol bindings

/**
 * How a CloudEvent travels inside an envelope, whatever the broker: every attribute except
 * `datacontenttype` as a header `ce-<attribute>` (the HTTP binding's names) holding the attribute's
 * value in its canonical string form, not percent-encoded; `datacontenttype` as the envelope's
 * contentType; the data as the payload. An envelope is a CloudEvent when it has `ce-specversion`
 * (the gateway validates every event before it becomes an envelope).
 */
export const CLOUDEVENTS_HEADER_PREFIX = 'ce-';
const SPECVERSION_HEADER = `${CLOUDEVENTS_HEADER_PREFIX}specversion`;

/**
 * A broker kind's CloudEvents protocol binding (binary content mode): how an event's attributes
 * are named on its wire, so a consumer with that broker's CloudEvents binding reads the event
 * back. Declared by each adapter kind (`declarations.cloudEvents`) and applied in one place
 * (withCloudEventsBinding) to every message the adapter publishes.
 */
export interface CloudEventsBinding {
  /** The binding or convention followed, in a few words (documentation and logs). */
  readonly convention: string;
  /**
   * Prefix of an attribute's header (or property) name on the wire: `ce_` (Kafka binding),
   * `cloudEvents:` (AMQP binding), `CE_` (RocketMQ binding), `ce-` (HTTP and NATS bindings).
   */
  readonly attributePrefix: string;
  /**
   * A header that carries `datacontenttype` besides the message's own content type, for bindings
   * that name one (RocketMQ: `CE_contenttype`). Kafka's `content-type` header and AMQP's
   * content-type property are already the envelope's content type.
   */
  readonly contentTypeHeader?: string;
}

/** True for an envelope header map that carries a CloudEvent (see CLOUDEVENTS_HEADER_PREFIX). */
export function isCloudEventHeaders(headers: Readonly<Record<string, string>>): boolean {
  return Object.hasOwn(headers, SPECVERSION_HEADER);
}

/**
 * The envelope's headers with its CloudEvent attributes renamed for `binding`; other headers
 * (traceparent, tracestate, user headers) are kept as they are. Headers of an envelope that is not
 * a CloudEvent are returned unchanged.
 */
export function cloudEventsWireHeaders(
  headers: Readonly<Record<string, string>>,
  contentType: string,
  binding: CloudEventsBinding,
): Readonly<Record<string, string>> {
  if (!isCloudEventHeaders(headers)) return headers;
  const entries = Object.entries(headers).map(([name, value]): [string, string] =>
    name.startsWith(CLOUDEVENTS_HEADER_PREFIX)
      ? [binding.attributePrefix + name.slice(CLOUDEVENTS_HEADER_PREFIX.length), value]
      : [name, value],
  );
  if (binding.contentTypeHeader !== undefined) entries.push([binding.contentTypeHeader, contentType]);
  // fromEntries: a user header named `__proto__` stays an own property.
  return Object.fromEntries(entries);
}

/** An envelope as `binding` puts it on the wire (the same object when nothing changes). */
export function bindCloudEvent(envelope: MessageEnvelope, binding: CloudEventsBinding): MessageEnvelope {
  if (!isCloudEventHeaders(envelope.headers)) return envelope;
  return { ...envelope, headers: cloudEventsWireHeaders(envelope.headers, envelope.contentType, binding) };
}

/** True when `binding` names attributes exactly as envelopes carry them. */
function isEnvelopeForm(binding: CloudEventsBinding | undefined): boolean {
  return (
    binding === undefined ||
    (binding.attributePrefix === CLOUDEVENTS_HEADER_PREFIX && binding.contentTypeHeader === undefined)
  );
}

/**
 * The adapter, publishing every CloudEvent with its kind's binding: the one place a binding is
 * applied, so an adapter only declares it. Everything but `publish` is the adapter's own (a
 * Proxy: optional abilities such as `read` and adapter-specific members stay reachable).
 */
export function withCloudEventsBinding<A extends BrokerAdapter>(
  adapter: A,
  binding: CloudEventsBinding | undefined,
): A {
  if (isEnvelopeForm(binding)) return adapter;
  const bound = binding!;
  const publish: BrokerAdapter['publish'] = (batch, options) =>
    adapter.publish(
      batch.map((envelope) => bindCloudEvent(envelope, bound)),
      options,
    );
  return new Proxy(adapter, {
    get: (target, property, receiver) =>
      property === 'publish' ? publish : (Reflect.get(target, property, receiver) as unknown),
  });
}
