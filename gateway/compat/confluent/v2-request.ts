/**
 * The v2 produce body, `{"records":[{"key","value","partition","headers"}], "key_schema"…}`, for the
 * REST Proxy and the Kafka Bridge: validated whole, then each record's key and value taken as bytes
 * by the embedded format (binary: base64; json: the JSON text as written; text: the string's
 * UTF-8). As for a /v1 batch, one invalid record refuses the request and nothing is published.
 */
import { z } from 'zod';
import type { LimitsConfig } from '../../config/schema.js';
import { elementSpans, memberSpan } from './json-spans.js';
import { KafkaRestError, schemaRegistryError } from './errors.js';
import type { EmbeddedFormat } from './media-type.js';
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

const PARTITION = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1);

const recordSchema = z.strictObject({
  key: z.unknown().optional(),
  value: z.unknown().optional(),
  partition: PARTITION.nullable().optional(),
  // The Kafka Bridge's headers: {key, value} with a base64 value.
  headers: z
    .array(z.strictObject({ key: z.string().min(1), value: z.string().nullable() }))
    .nullable()
    .optional(),
});

const bodySchema = z.strictObject({
  key_schema: z.string().nullable().optional(),
  key_schema_id: z.number().int().nullable().optional(),
  value_schema: z.string().nullable().optional(),
  value_schema_id: z.number().int().nullable().optional(),
  records: z.array(z.unknown()),
});

export interface V2Request {
  readonly records: readonly RecordInput[];
}

/**
 * Parses a v2 body that parseJsonBody accepted (`value` is its parse, `body` its bytes). Errors
 * name the first bad record by index.
 */
export function parseV2Request(
  body: Uint8Array,
  value: unknown,
  format: EmbeddedFormat,
  limits: LimitsConfig,
  pathPartition: number | undefined,
): V2Request | { error: RecordError } {
  const parsed = bodySchema.safeParse(value);
  if (!parsed.success) return { error: unprocessable(describe(parsed.error)) };
  const { data } = parsed;
  if (
    [data.key_schema, data.key_schema_id, data.value_schema, data.value_schema_id].some(
      (field) => field !== undefined && field !== null,
    )
  ) {
    return { error: schemaRegistryError('a key or value schema') };
  }
  if (data.records.length === 0) return { error: unprocessable('records may not be empty') };
  if (data.records.length > limits.maxBatchMessages) {
    return {
      error: unprocessable(
        `a request holds at most ${limits.maxBatchMessages} records; got ${data.records.length}`,
      ),
    };
  }
  const recordsAt = memberSpan(body, firstByte(body), 'records');
  const spans = recordsAt ? elementSpans(body, recordsAt.start) : [];
  const records: RecordInput[] = [];
  for (const [index, raw] of data.records.entries()) {
    const record = recordSchema.safeParse(raw);
    if (!record.success) return { error: unprocessable(`records[${index}]: ${describe(record.error)}`) };
    const span = spans[index];
    const built = recordInput(body, span?.start, record.data, format, limits, pathPartition);
    if ('error' in built) {
      const { error } = built;
      const prefixed =
        error instanceof KafkaRestError
          ? new KafkaRestError(error.status, error.errorCode, `records[${index}]: ${error.message}`)
          : error;
      return { error: prefixed };
    }
    records.push(built.record);
  }
  return { records };
}

type V2Record = z.infer<typeof recordSchema>;

function recordInput(
  body: Uint8Array,
  at: number | undefined,
  record: V2Record,
  format: EmbeddedFormat,
  limits: LimitsConfig,
  pathPartition: number | undefined,
): { record: RecordInput } | { error: RecordError } {
  if (record.value === undefined || record.value === null) {
    return {
      error: invalidRecord('a record needs a value; pubgate does not publish null values (tombstones)'),
    };
  }
  if (pathPartition !== undefined && record.partition != null && record.partition !== pathPartition) {
    return {
      error: unprocessable(`the record names partition ${record.partition}, the path ${pathPartition}`),
    };
  }
  const partition = pathPartition ?? record.partition ?? undefined;

  let payload: Uint8Array;
  let keyBytes: Uint8Array | undefined;
  if (format === 'json') {
    if (at === undefined) throw new Error('a v2 record without a byte span');
    payload = spanBytes(body, memberSpan(body, at, 'value')!);
    const keySpan = record.key === undefined || record.key === null ? undefined : memberSpan(body, at, 'key');
    keyBytes = keySpan && spanBytes(body, keySpan);
  } else {
    const value = stringField(record.value, 'value', format);
    if ('error' in value) return value;
    const decodedValue =
      format === 'binary' ? base64Field(value.text, 'value') : textBytes(value.text, 'the value');
    if ('error' in decodedValue) return decodedValue;
    payload = decodedValue.bytes;
    if (record.key !== undefined && record.key !== null) {
      const key = stringField(record.key, 'key', format);
      if ('error' in key) return key;
      const decodedKey = format === 'binary' ? base64Field(key.text, 'key') : textBytes(key.text, 'the key');
      if ('error' in decodedKey) return decodedKey;
      keyBytes = decodedKey.bytes;
    }
  }
  let key: string | undefined;
  if (keyBytes !== undefined) {
    const checked = keyOf(keyBytes, limits);
    if ('error' in checked) return checked;
    key = checked.key;
  }
  const headers = headersOf(
    (record.headers ?? []).map(({ key: name, value }) => ({ name, value })),
    limits,
  );
  if ('error' in headers) return headers;
  return {
    record: {
      ...(key === undefined ? {} : { key }),
      payload,
      contentType: CONTENT_TYPES[format],
      headers: withRecordFields(headers.headers, { partition }),
      keySize: keyBytes?.length ?? 0,
    },
  };
}

function stringField(
  value: unknown,
  name: string,
  format: EmbeddedFormat,
): { text: string } | { error: RecordError } {
  if (typeof value === 'string') return { text: value };
  const form = format === 'binary' ? 'a base64 string' : 'a string';
  return { error: unprocessable(`the ${name} must be ${form} in the ${format} format`) };
}

function base64Field(text: string, name: string): { bytes: Uint8Array } | { error: RecordError } {
  const bytes = decodeBase64(text);
  return bytes ? { bytes } : { error: unprocessable(`the ${name} is not standard base64`) };
}

function unprocessable(message: string): KafkaRestError {
  return new KafkaRestError(422, 422, message);
}

function firstByte(body: Uint8Array): number {
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d))
    i++;
  return i;
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}
