/**
 * The v2 request content types, `application/vnd.kafka[.embedded_format][.api_version]+json`:
 * which embedded format the records use. The less specific forms the REST Proxy accepts
 * (`application/vnd.kafka+json`, `application/vnd.kafka.v2+json`, `application/json`,
 * `application/octet-stream`) mean the binary format. Parameters (`; charset=utf-8`) are ignored.
 */
import { parseMediaType } from '../../publish/content-type.js';

/** Formats pubgate publishes: key and value bytes are taken from the record as they are. */
export type EmbeddedFormat = 'binary' | 'json' | 'text';

/** Formats that need a Schema Registry, which pubgate does not run. */
export const SCHEMA_FORMATS = ['avro', 'protobuf', 'jsonschema'] as const;
export type SchemaFormat = (typeof SCHEMA_FORMATS)[number];

export type V2MediaType =
  | { readonly kind: 'format'; readonly format: EmbeddedFormat }
  | { readonly kind: 'schema'; readonly format: SchemaFormat }
  | { readonly kind: 'unsupported'; readonly essence: string | undefined };

const VND_KAFKA = /^application\/vnd\.kafka(?:\.([a-z]+))?(?:\.(v2))?\+json$/;

export function v2MediaType(header: string | undefined): V2MediaType {
  const essence = parseMediaType(header)?.essence;
  if (essence === 'application/json' || essence === 'application/octet-stream') {
    return { kind: 'format', format: 'binary' };
  }
  const match = essence === undefined ? null : VND_KAFKA.exec(essence);
  if (!match) return { kind: 'unsupported', essence };
  const embedded = match[1];
  if (embedded === undefined || embedded === 'v2') return { kind: 'format', format: 'binary' };
  if (embedded === 'binary' || embedded === 'json' || embedded === 'text') {
    return { kind: 'format', format: embedded };
  }
  if ((SCHEMA_FORMATS as readonly string[]).includes(embedded)) {
    return { kind: 'schema', format: embedded as SchemaFormat };
  }
  return { kind: 'unsupported', essence };
}
