/**
 * What a Dapr publish turns into: request metadata (`metadata.*`, `cloudevent.*`), and the message
 * payload — Dapr's CloudEvent envelope around the data, the client's own CloudEvent as it was sent,
 * or the raw bytes (`rawPayload=true`). Pure functions; no HTTP types.
 *
 * The client's data is spliced into the envelope as the bytes it sent (a JSON body is not parsed
 * and re-serialized), so numbers past 2^53, `-0` or key order reach the consumer unchanged.
 */
import { isUtf8 } from 'node:buffer';
import { isJsonMediaType, parseMediaType } from '../../publish/content-type.js';
import { DaprError } from './errors.js';

export const CLOUDEVENTS_JSON = 'application/cloudevents+json';

/** CloudEvent attributes a client may set with `cloudevent.<name>` metadata. */
const OVERRIDABLE = ['id', 'source', 'type', 'subject', 'traceid', 'traceparent', 'tracestate'] as const;
type Overridable = (typeof OVERRIDABLE)[number];

export interface PublishMetadata {
  readonly rawPayload: boolean;
  readonly ttlSeconds?: number;
  /** The message key, from the configured key metadata (partitionKey, routingKey…). */
  readonly key?: string;
  readonly overrides: Readonly<Partial<Record<Overridable, string>>>;
}

/** Go's strconv.ParseBool, which Dapr uses for `rawPayload`. */
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * Request metadata from a query string: `metadata.<name>` (and `cloudevent.<name>` given without the
 * `metadata.` prefix). Repeated parameters and values that do not parse → 400
 * ERR_PUBSUB_REQUEST_METADATA, as Dapr answers `rawPayload=100`.
 */
export function metadataFromQuery(query: Readonly<Record<string, unknown>>): Record<string, string> {
  const found = new Map<string, string>();
  for (const [name, value] of Object.entries(query)) {
    const key = name.startsWith('metadata.')
      ? name.slice('metadata.'.length)
      : name.startsWith('cloudevent.')
        ? name
        : undefined;
    if (key === undefined) continue;
    if (typeof value !== 'string') {
      throw metadataError(`query parameter ${name} may be given only once`);
    }
    found.set(key, value);
  }
  return Object.fromEntries(found);
}

/** Reads the metadata pubgate acts on; others (component-specific) are ignored. */
export function readMetadata(
  metadata: Readonly<Record<string, string>>,
  keyNames: readonly string[],
): PublishMetadata {
  const raw = metadata.rawPayload;
  let rawPayload = false;
  if (raw !== undefined) {
    if (TRUE.has(raw)) rawPayload = true;
    else if (!FALSE.has(raw)) throw metadataError(`rawPayload must be true or false; got "${raw}"`);
  }
  const ttl = metadata.ttlInSeconds;
  if (ttl !== undefined && !/^\d{1,10}$/.test(ttl)) {
    throw metadataError(`ttlInSeconds must be a whole number of seconds; got "${ttl}"`);
  }
  let key: string | undefined;
  for (const name of keyNames) {
    const value = metadata[name];
    if (value === undefined) continue;
    if (key !== undefined && key !== value) {
      throw metadataError(`the key metadata ${keyNames.join(', ')} disagree; give one`);
    }
    key = value;
  }
  const overrides: Partial<Record<Overridable, string>> = {};
  for (const name of OVERRIDABLE) {
    const value = metadata[`cloudevent.${name}`];
    if (value !== undefined) overrides[name] = value;
  }
  return {
    rawPayload,
    ...(ttl === undefined ? {} : { ttlSeconds: Number(ttl) }),
    ...(key === undefined ? {} : { key }),
    overrides,
  };
}

/**
 * A body the client declared as a CloudEvent: a JSON object with the required attributes. It is
 * published as sent; its `id` becomes the message id.
 */
export function checkCloudEvent(value: unknown): { id: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw cloudEventError('an application/cloudevents+json body must be a JSON object');
  }
  const event = value as Record<string, unknown>;
  const missing = ['id', 'source', 'specversion', 'type'].filter(
    (name) => typeof event[name] !== 'string' || event[name] === '',
  );
  if (missing.length > 0) {
    throw cloudEventError(`the CloudEvent lacks the required attribute(s) ${missing.join(', ')}`);
  }
  return { id: event.id as string };
}

export interface EnvelopeInput {
  readonly id: string;
  readonly topic: string;
  readonly pubsubName: string;
  /** The data's media type (the request's Content-Type, or `text/plain` when it has none). */
  readonly dataContentType: string;
  /** The data as the client sent it. A JSON type must hold valid JSON (checked by the caller). */
  readonly data: Uint8Array;
  readonly source: string;
  readonly now: number;
  readonly metadata: PublishMetadata;
  /** The request's W3C trace context, used when no `cloudevent.trace*` override is given. */
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/**
 * Dapr's CloudEvent around the data (`application/cloudevents+json`): `data` holds a JSON body as
 * sent, a text body as a string; a binary body (`application/octet-stream`, or bytes that are not
 * UTF-8) goes base64-encoded into `data_base64`.
 */
export function wrapInCloudEvent(input: EnvelopeInput): Buffer {
  const { metadata, overrides } = { metadata: input.metadata, overrides: input.metadata.overrides };
  const traceparent = overrides.traceparent ?? overrides.traceid ?? input.traceparent;
  const tracestate = overrides.tracestate ?? input.tracestate;
  const attributes: Record<string, string> = {
    specversion: '1.0',
    id: input.id,
    source: overrides.source ?? input.source,
    type: overrides.type ?? 'com.dapr.event.sent',
    datacontenttype: input.dataContentType,
    topic: input.topic,
    pubsubname: input.pubsubName,
    time: new Date(input.now).toISOString(),
    ...(overrides.subject === undefined ? {} : { subject: overrides.subject }),
    ...(traceparent === undefined ? {} : { traceid: overrides.traceid ?? traceparent, traceparent }),
    ...(tracestate === undefined ? {} : { tracestate }),
    ...(metadata.ttlSeconds === undefined
      ? {}
      : { expiration: new Date(input.now + metadata.ttlSeconds * 1000).toISOString() }),
  };
  const head = JSON.stringify(attributes);
  const essence = parseMediaType(input.dataContentType)?.essence ?? 'text/plain';
  const data = Buffer.from(input.data.buffer, input.data.byteOffset, input.data.byteLength);
  let member: Buffer;
  if (isJsonMediaType(essence)) {
    member = Buffer.concat([Buffer.from(',"data":'), data]);
  } else if (essence === 'application/octet-stream' || !isUtf8(data)) {
    member = Buffer.from(`,"data_base64":${JSON.stringify(data.toString('base64'))}`);
  } else {
    member = Buffer.from(`,"data":${JSON.stringify(data.toString('utf8'))}`);
  }
  return Buffer.concat([Buffer.from(head.slice(0, -1)), member, Buffer.from('}')]);
}

export function metadataError(message: string): DaprError {
  return new DaprError(400, 'ERR_PUBSUB_REQUEST_METADATA', `failed deserializing metadata: ${message}`);
}

export function cloudEventError(message: string): DaprError {
  return new DaprError(400, 'ERR_PUBSUB_CLOUD_EVENTS_SER', message);
}
