/**
 * One v3 produce record, `{"partition_id","headers":[{name,value}],"key":{type,data},"value":{type,data},
 * "timestamp"}`, from its bytes in the request. Types: BINARY (data is base64), JSON (data is any
 * JSON value, published as the text the client wrote), STRING (data's UTF-8). A schema type, schema
 * fields, or data without a type (which the REST Proxy resolves through Schema Registry) get the
 * REST Proxy's 42206.
 */
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import type { LimitsConfig } from '../../config/schema.js';
import { jsonDepth } from '../../publish/json.js';
import { KafkaRestError, schemaRegistryError } from './errors.js';
import { pathSpan, type ByteSpan } from './json-spans.js';
import {
  CONTENT_TYPES,
  decodeBase64,
  headersOf,
  invalidRecord,
  keyOf,
  spanBytes,
  textBytes,
  withRecordFields,
  type RecordError,
  type RecordInput,
} from './records.js';

const SCHEMA_FIELDS = ['subject', 'subject_name_strategy', 'schema_id', 'schema_version', 'schema'] as const;

const dataSchema = z.strictObject({
  type: z.string().nullable().optional(),
  data: z.unknown().optional(),
  subject: z.unknown().optional(),
  subject_name_strategy: z.unknown().optional(),
  schema_id: z.unknown().optional(),
  schema_version: z.unknown().optional(),
  schema: z.unknown().optional(),
});

const recordSchema = z.strictObject({
  partition_id: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .nullable()
    .optional(),
  headers: z
    .array(z.strictObject({ name: z.string().min(1), value: z.string().nullable() }))
    .nullable()
    .optional(),
  key: dataSchema.nullable().optional(),
  value: dataSchema.nullable().optional(),
  timestamp: z.string().nullable().optional(),
});

export type DataType = 'BINARY' | 'JSON' | 'STRING';

export interface V3Record extends RecordInput {
  readonly keyType?: DataType;
  readonly valueType: DataType;
}

/** Parses the record at `span` of `body` (a UTF-8 body). */
export function parseV3Record(
  body: Uint8Array,
  span: ByteSpan,
  limits: LimitsConfig,
): { record: V3Record } | { error: RecordError } {
  const text = body.subarray(span.start, span.end);
  if (jsonDepth(text, limits.maxJsonDepth + 3) > limits.maxJsonDepth + 3) {
    return { error: invalidRecord(`the record is nested deeper than ${limits.maxJsonDepth} levels`) };
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text).toString('utf8'));
  } catch (error) {
    return { error: invalidRecord(`the record is not valid JSON: ${(error as Error).message}`) };
  }
  const parsed = recordSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { error: invalidRecord(`${issue.path.join('.') || 'record'}: ${issue.message}`) };
  }
  const record = parsed.data;
  if (record.value === undefined || record.value === null || record.value.data == null) {
    return {
      error: invalidRecord('a record needs a value; pubgate does not publish null values (tombstones)'),
    };
  }
  const value_ = dataOf(body, span, 'value', record.value);
  if ('error' in value_) return value_;
  let key: string | undefined;
  let keyType: DataType | undefined;
  let keySize = 0;
  if (record.key != null && record.key.data != null) {
    const keyData = dataOf(body, span, 'key', record.key);
    if ('error' in keyData) return keyData;
    const checked = keyOf(keyData.bytes, limits);
    if ('error' in checked) return checked;
    key = checked.key;
    keyType = keyData.type;
    keySize = keyData.bytes.length;
  }
  let timestamp: number | undefined;
  if (record.timestamp != null) {
    timestamp = Date.parse(record.timestamp);
    if (!Number.isFinite(timestamp) || !/^\d{4}-\d{2}-\d{2}T/.test(record.timestamp)) {
      return {
        error: invalidRecord('timestamp must be an ISO 8601 date-time, e.g. 2023-03-09T14:07:23.592Z'),
      };
    }
  }
  const headers = headersOf(record.headers ?? [], limits);
  if ('error' in headers) return headers;
  return {
    record: {
      ...(key === undefined ? {} : { key, keyType }),
      payload: value_.bytes,
      contentType:
        CONTENT_TYPES[value_.type === 'BINARY' ? 'binary' : value_.type === 'JSON' ? 'json' : 'text'],
      headers: withRecordFields(headers.headers, {
        partition: record.partition_id ?? undefined,
        timestamp,
      }),
      keySize,
      valueType: value_.type,
    },
  };
}

type Data = z.infer<typeof dataSchema>;

function dataOf(
  body: Uint8Array,
  span: ByteSpan,
  field: 'key' | 'value',
  data: Data,
): { type: DataType; bytes: Uint8Array } | { error: RecordError } {
  if (SCHEMA_FIELDS.some((name) => data[name] !== undefined && data[name] !== null)) {
    return { error: schemaRegistryError(`a ${field} with schema fields`) };
  }
  const type = data.type?.toUpperCase();
  if (type === undefined) return { error: schemaRegistryError(`a ${field} without a type`) };
  if (type === 'AVRO' || type === 'PROTOBUF' || type === 'JSONSCHEMA') {
    return { error: schemaRegistryError(`the ${type} ${field} type`) };
  }
  if (type === 'JSON') {
    const at = pathSpan(body, span.start, [field, 'data']);
    if (!at) throw new Error('a v3 JSON data without a byte span');
    return { type, bytes: spanBytes(body, at) };
  }
  if (type !== 'BINARY' && type !== 'STRING') {
    return {
      error: invalidRecord(`${field}.type must be BINARY, JSON or STRING (or a Schema Registry type)`),
    };
  }
  if (typeof data.data !== 'string') {
    return { error: invalidRecord(`${field}.data must be a string for type ${type}`) };
  }
  if (type === 'STRING') return withType(type, textBytes(data.data, `${field}.data`));
  const bytes = decodeBase64(data.data);
  if (!bytes) return { error: invalidRecord(`${field}.data must be standard base64 for type BINARY`) };
  return { type, bytes };
}

function withType(
  type: DataType,
  result: { bytes: Uint8Array } | { error: RecordError },
): { type: DataType; bytes: Uint8Array } | { error: RecordError } {
  return 'error' in result ? result : { type, bytes: result.bytes };
}

/** A body's text must be UTF-8 before any record is read (JSON is UTF-8, RFC 8259). */
export function checkUtf8(body: Uint8Array): KafkaRestError | undefined {
  return isUtf8(body)
    ? undefined
    : new KafkaRestError(400, 400, 'the body is not valid UTF-8; JSON text is UTF-8 (RFC 8259)');
}
