/**
 * The one configuration schema. Every option is documented here with its default; the README's
 * configuration reference is written from this file. Unknown keys are rejected everywhere.
 */
import { z } from 'zod';
import { ADAPTER_KINDS, type BrokerConfig } from '../../adapters/registry.js';

const MiB = 1024 * 1024;

/** Topic patterns: dot-separated segments; `*` matches one segment, `**` one or more segments. */
export const TOPIC_PATTERN = /^(\*\*|\*|[A-Za-z0-9_-]+)(\.(\*\*|\*|[A-Za-z0-9_-]+))*$/;

const topicPattern = z
  .string()
  .regex(
    TOPIC_PATTERN,
    'a topic pattern: dot-separated segments of [A-Za-z0-9_-], `*` (one segment) or `**` (any)',
  );

const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1').describe('Address to listen on. Default: 127.0.0.1.'),
  port: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(8080)
    .describe('TCP port. Default: 8080, or the PORT environment variable when set.'),
  publishTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('Deadline for the broker to confirm a publish; past it the answer is 503. Default: 10000.'),
  headersTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('Close a connection whose request headers take longer than this. Default: 10000.'),
  requestTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe(
      'Close a connection whose whole request (headers and body) takes longer than this. Default: 30000.',
    ),
  keepAliveTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(5_000)
    .describe('Idle keep-alive connections are closed after this. Default: 5000.'),
  shutdownTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(15_000)
    .describe(
      'On SIGTERM, how long in-flight requests may take to finish before connections are cut. Default: 15000.',
    ),
  retryAfterSeconds: z
    .number()
    .int()
    .positive()
    .default(1)
    .describe('Retry-After sent with 503 answers for a failed broker. Default: 1.'),
  trustProxy: z
    .boolean()
    .default(false)
    .describe('Trust X-Forwarded-* headers (only behind a proxy you run). Default: false.'),
});

const logSchema = z.strictObject({
  level: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info')
    .describe('Log level; logs are JSON lines on stdout. Default: info.'),
});

const limitsSchema = z.strictObject({
  maxTopicLength: z.number().int().min(1).max(249).default(249).describe('Longest topic name. Default: 249.'),
  maxBatchMessages: z
    .number()
    .int()
    .min(1)
    .default(500)
    .describe('Most messages in one batch request. Default: 500.'),
  maxJsonDepth: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(64)
    .describe('Deepest nesting accepted in a JSON body; deeper is 400. Default: 64.'),
  maxHeaders: z.number().int().min(0).default(32).describe('Most user headers on one message. Default: 32.'),
  maxHeaderNameLength: z
    .number()
    .int()
    .min(1)
    .default(128)
    .describe('Longest user header name. Default: 128.'),
  maxHeaderValueLength: z
    .number()
    .int()
    .min(1)
    .default(4096)
    .describe('Longest user header value, in characters. Default: 4096.'),
  maxKeyLength: z.number().int().min(1).default(256).describe('Longest Message-Key. Default: 256.'),
});

export const DEFAULT_CONTENT_TYPES = [
  'application/json',
  'application/*+json',
  'text/plain',
  'application/octet-stream',
] as const;

const routeSchema = z.strictObject({
  topic: topicPattern.describe(
    'Topic pattern this route serves. Routes are matched in order; the first match wins.',
  ),
  target: z.string().min(1).describe('Name of a broker target under `brokers:`.'),
  destination: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Broker-side name, with `{topic}` replaced by the topic and `{1}`, `{2}`… by the segments matched by wildcards. Default: the topic itself.',
    ),
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(MiB)
    .describe(
      'Largest request body for this route (413 above it). Batches may be this size too. Default: 1048576.',
    ),
  contentTypes: z
    .array(
      z.string().regex(/^[a-z0-9.+*-]+\/[a-z0-9.+*-]+$/i, 'a media type such as application/json or text/*'),
    )
    .min(1)
    .default([...DEFAULT_CONTENT_TYPES])
    .describe(
      'Media types accepted (415 otherwise); `*` wildcards allowed. JSON types are checked to parse. Default: application/json, application/*+json, text/plain, application/octet-stream.',
    ),
  headers: z
    .array(z.string().regex(/^[a-z0-9-]+\*?$/i, 'a header name, optionally ending in *'))
    .default([])
    .describe(
      'Extra HTTP request headers copied onto the message (names, or prefixes ending in `*`). `ce-*`, `traceparent` and `tracestate` are always copied. Default: none.',
    ),
});

const apiKey = z
  .string()
  .min(1)
  .describe(
    'An API key: `sha256:<64 hex>` (recommended) or the key itself (hashed at start, with a warning).',
  );

const tenantSchema = z.strictObject({
  keys: z.array(apiKey).min(1).describe('API keys that authenticate as this tenant.'),
  topics: z
    .array(topicPattern)
    .min(1)
    .describe('Topic patterns this tenant may publish to and read; everything else is 403.'),
});

// Each kind's schema is a strict object with a literal `kind`; the registry types them loosely.
const brokerSchema = z.discriminatedUnion(
  'kind',
  ADAPTER_KINDS.map((k) => k.configSchema) as unknown as Parameters<typeof z.discriminatedUnion>[1],
) as unknown as z.ZodType<BrokerConfig>;

const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export const configSchema = z
  .strictObject({
    server: serverSchema.default(serverSchema.parse({})),
    log: logSchema.default(logSchema.parse({})),
    limits: limitsSchema.default(limitsSchema.parse({})),
    brokers: z.record(
      z.string().regex(TARGET_NAME, 'a target name: [A-Za-z0-9_-], at most 63'),
      brokerSchema,
    ),
    routes: z.array(routeSchema).min(1),
    tenants: z.record(
      z.string().regex(TENANT_NAME, 'a tenant name: [A-Za-z0-9_-], at most 63'),
      tenantSchema,
    ),
  })
  .superRefine((config, ctx) => {
    if (Object.keys(config.brokers).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['brokers'], message: 'at least one broker target is required' });
    }
    if (Object.keys(config.tenants).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['tenants'], message: 'at least one tenant is required' });
    }
    config.routes.forEach((route, i) => {
      if (!(route.target in config.brokers)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'target'],
          message: `unknown broker target "${route.target}"; known: ${Object.keys(config.brokers).join(', ')}`,
        });
      }
    });
    const owner = new Map<string, string>();
    for (const [tenant, { keys }] of Object.entries(config.tenants)) {
      keys.forEach((key, i) => {
        const other = owner.get(key);
        if (other !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['tenants', tenant, 'keys', i],
            message: `the same API key is also listed for tenant "${other}"`,
          });
        }
        owner.set(key, tenant);
        if (key.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(key)) {
          ctx.addIssue({
            code: 'custom',
            path: ['tenants', tenant, 'keys', i],
            message: 'a hashed key is sha256: followed by 64 lower-case hex digits',
          });
        }
      });
    }
  });

export type GatewayConfig = z.infer<typeof configSchema>;
export type RouteConfig = GatewayConfig['routes'][number];
export type TenantConfig = GatewayConfig['tenants'][string];
export type ServerConfig = GatewayConfig['server'];
export type LimitsConfig = GatewayConfig['limits'];
