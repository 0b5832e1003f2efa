/**
 * The management publish body, `{"properties", "routing_key", "payload", "payload_encoding"}` (all
 * mandatory, as in RabbitMQ): the payload bytes (`string`: the field's UTF-8; `base64`: decoded),
 * and the AMQP basic properties as pubgate message fields and headers.
 *
 * Properties the envelope has a field for: content_type (the message's content type),
 * message_id (its id, as /v1's Message-Id), headers (its headers; string values only). The others
 * are carried as `pubgate-amqp-*` headers (timestamp as `pubgate-timestamp`, epoch ms) until the
 * adapters honour them; see README.md. `user_id` (checked by RabbitMQ against the connection's
 * user) and `cluster_id` (deprecated) are refused rather than dropped.
 */
import { z } from 'zod';
import type { LimitsConfig } from '../../config/schema.js';
import { GatewayError } from '../../errors/registry.js';
import { isWellFormed } from '../../publish/header-values.js';
import { checkHeaders, checkMessageId } from '../../publish/validation.js';

/** Property → header for the AMQP properties the envelope has no field for. */
export const AMQP_PROPERTY_HEADERS = {
  content_encoding: 'pubgate-amqp-content-encoding',
  correlation_id: 'pubgate-amqp-correlation-id',
  reply_to: 'pubgate-amqp-reply-to',
  expiration: 'pubgate-amqp-expiration',
  priority: 'pubgate-amqp-priority',
  type: 'pubgate-amqp-type',
  app_id: 'pubgate-amqp-app-id',
  timestamp: 'pubgate-timestamp',
} as const;

/** AMQP short strings are at most 255 bytes. */
const shortString = z
  .string()
  .refine((s) => Buffer.byteLength(s) <= 255, 'must be at most 255 bytes (an AMQP short string)');
/** The management UI sends numbers as strings; both are accepted. */
const integer = (min: number, max: number) =>
  z
    .union([
      z.number(),
      z
        .string()
        .regex(/^\d{1,15}$/)
        .transform(Number),
    ])
    .pipe(z.number().int().min(min).max(max));

const propertiesSchema = z.strictObject({
  content_type: shortString.optional(),
  content_encoding: shortString.optional(),
  // Not z.record, which copies into a new object and drops a "__proto__" name: kept as parsed.
  headers: z
    .custom<Record<string, unknown>>(
      (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
      'must be an object of header names to strings',
    )
    .optional(),
  delivery_mode: integer(1, 2).optional(),
  priority: integer(0, 255).optional(),
  correlation_id: shortString.optional(),
  reply_to: shortString.optional(),
  expiration: z
    .string()
    .regex(/^\d{1,10}$/, 'must be a number of milliseconds, as a string')
    .optional(),
  message_id: shortString.optional(),
  timestamp: integer(0, 253_402_300_799).optional(),
  type: shortString.optional(),
  app_id: shortString.optional(),
});

const bodySchema = z.object({
  properties: z.custom<Record<string, unknown>>(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
    'must be an object',
  ),
  routing_key: z.string().refine((s) => Buffer.byteLength(s) <= 255, 'must be at most 255 bytes'),
  payload: z.string(),
  payload_encoding: z.enum(['string', 'base64']),
});

export interface PublishRequest {
  readonly routingKey: string;
  readonly id?: string;
  readonly payload: Uint8Array;
  readonly contentType: string;
  readonly headers: Record<string, string>;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export function parsePublishRequest(
  value: unknown,
  limits: LimitsConfig,
): PublishRequest | { error: GatewayError } {
  const body = bodySchema.safeParse(value);
  if (!body.success) return bad(describe(body.error, 'body'));
  const { properties: rawProperties, routing_key, payload, payload_encoding } = body.data;
  if ('user_id' in rawProperties || 'cluster_id' in rawProperties) {
    return bad('properties.user_id and properties.cluster_id are not supported');
  }
  const parsed = propertiesSchema.safeParse(rawProperties);
  if (!parsed.success) return bad(describe(parsed.error, 'properties'));
  const properties = parsed.data;

  let bytes: Uint8Array;
  if (payload_encoding === 'base64') {
    if (payload.length % 4 !== 0 || !BASE64.test(payload)) return bad('payload is not standard base64');
    bytes = Buffer.from(payload, 'base64');
  } else {
    if (!isWellFormed(payload))
      return bad('payload must be well-formed Unicode (it contains an unpaired surrogate)');
    bytes = Buffer.from(payload, 'utf8');
  }

  if (properties.message_id !== undefined) {
    const invalid = checkMessageId(properties.message_id);
    if (invalid) return { error: invalid };
  }
  const userHeaders: Record<string, unknown> = properties.headers ?? {};
  for (const [name, headerValue] of Object.entries(userHeaders)) {
    if (typeof headerValue !== 'string') {
      return bad(`properties.headers.${name} must be a string; pubgate keeps header values as text`);
    }
  }
  const checked = checkHeaders(userHeaders, limits);
  if ('error' in checked) return checked;
  const headers = checked.headers;
  for (const [property, header] of Object.entries(AMQP_PROPERTY_HEADERS)) {
    const raw = properties[property as keyof typeof AMQP_PROPERTY_HEADERS];
    if (raw === undefined) continue;
    const text = property === 'timestamp' ? String(Number(raw) * 1000) : String(raw);
    if (CONTROL.test(text) || !isWellFormed(text)) {
      return bad(`properties.${property} contains a control character or an unpaired surrogate`);
    }
    headers[header] = text;
  }
  return {
    routingKey: routing_key,
    ...(properties.message_id === undefined ? {} : { id: properties.message_id }),
    payload: bytes,
    contentType: properties.content_type ?? 'application/octet-stream',
    headers,
  };
}

function bad(detail: string): { error: GatewayError } {
  return { error: new GatewayError('GW_ERR_BAD_REQUEST', detail) };
}

function describe(error: z.ZodError, root: string): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${[root, ...issue.path].join('.')}: ${issue.message}`)
    .join('; ');
}
