/**
 * The one configuration schema. Every option is documented here with its default; the README's
 * configuration reference is written from this file. Unknown keys are rejected everywhere.
 */
import { z } from 'zod';
import { compatSchema } from '../compat/config.js';
import { ADAPTER_KINDS, type BrokerConfig } from '../../adapters/registry.js';
import { isReservedTopic } from '../broker-facts.js';
import { JWT_ALGORITHMS } from '../../policies/auth/index.js';
import { parseDuration } from '../publish/delay.js';

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
    .describe(
      'A request whose headers have not all arrived this long after its first byte gets 408 (GW_ERR_REQUEST_TIMEOUT) and its connection is closed; enforced to within half a second. At most requestTimeoutMs. Default: 10000.',
    ),
  requestTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe(
      'A request whose body has not all arrived this long after its first byte gets 408 (GW_ERR_REQUEST_TIMEOUT) and its connection is closed; enforced to within half a second. Time the gateway takes to answer a complete request does not count. Default: 30000.',
    ),
  maxHeaderSize: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .default(16 * 1024)
    .describe(
      'Largest request head (request line and headers) in bytes; above it the answer is 431 (GW_ERR_HEADERS_TOO_LARGE) and the connection is closed. Applies to connections opened after a reload. Default: 16384.',
    ),
  maxHeadersCount: z
    .number()
    .int()
    .min(8)
    .max(2000)
    .default(100)
    .describe(
      'Most header fields on one request; more → 431 (GW_ERR_HEADERS_TOO_LARGE), never a silently dropped header. Must exceed limits.maxHeaders. Default: 100.',
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

/** Every limit at its default: what a config without `limits:` gets (and what tests start from). */
export const DEFAULT_LIMITS = Object.freeze(limitsSchema.parse({}));

export const DEFAULT_CONTENT_TYPES = [
  'application/json',
  'application/*+json',
  'text/plain',
  'application/octet-stream',
] as const;

export const DELIVERY_MODES = ['sync', 'async', 'fire-and-forget'] as const;
/** Content codings a route can decode; `identity` (no coding) is always accepted. */
export const CONTENT_CODINGS = ['gzip', 'deflate', 'br'] as const;
/** What a sync publish does when its target is cut off (breaker open, not connected) or keeps failing. */
export const DEGRADE_MODES = ['reject', 'spool', 'failover'] as const;
export const BALANCE_MODES = ['round-robin', 'random', 'key-hash', 'weighted'] as const;
export const CLOUDEVENTS_MODES = ['binary', 'structured'] as const;

/**
 * A route's payload schema: the JSON Schema `document` (inline, or read from `file` at load by
 * gateway/publish/payload-schema.ts, so a reload sees a changed file).
 */
export interface RouteSchemaConfig {
  readonly file?: string;
  document?: unknown;
}

function routeSchemaOf(value: Record<string, unknown> | boolean | undefined): RouteSchemaConfig | undefined {
  if (value === undefined) return undefined;
  const keys = typeof value === 'object' ? Object.keys(value) : [];
  if (
    typeof value === 'object' &&
    keys.length === 1 &&
    keys[0] === 'file' &&
    typeof value.file === 'string'
  ) {
    return { file: value.file };
  }
  return { document: value };
}

const targetName = z.string().min(1);
const weights = z
  .record(z.string().min(1), z.number().positive('a weight must be greater than 0'))
  .refine((w) => Object.keys(w).length >= 2, 'name at least two targets');

const routeSchema = z.strictObject({
  topic: topicPattern.describe(
    'Topic pattern this route serves. Routes are matched in order; the first match wins.',
  ),
  target: targetName
    .optional()
    .describe(
      'Name of a broker target under `brokers:`. A route names exactly one of target, failover, split, mirror or balance. Default: none.',
    ),
  failover: z
    .array(targetName)
    .min(2)
    .optional()
    .describe(
      'Ordered targets: the first takes the traffic; when it is cut off (breaker open, not connected) or still fails after its retries, the next one is tried. Needs `degrade: failover`. Default: none.',
    ),
  split: weights
    .optional()
    .describe(
      'Weighted split between targets, e.g. `{main: 90, canary: 10}` (a canary while moving a topic). A message with a Message-Key goes by a hash of the key (one key, one target, order kept); a keyless one at random by weight. Default: none.',
    ),
  mirror: z
    .strictObject({
      primary: targetName.describe('The target whose outcome is the answer.'),
      secondaries: z
        .array(targetName)
        .min(1)
        .describe(
          'Targets that get a copy (same message id) at the same time; their failures are counted (pubgate_mirror_publish_total) and logged, never returned.',
        ),
    })
    .optional()
    .describe(
      'Publish to two vendors at once (dual writes during a migration); the primary answers. Default: none.',
    ),
  balance: z
    .strictObject({
      mode: z
        .enum(BALANCE_MODES)
        .default('round-robin')
        .describe(
          '`round-robin`, `random`, `key-hash` (by Message-Key, order kept per key; keyless messages go round robin) or `weighted` (random by weight; keyed messages by hash). Default: round-robin.',
        ),
      targets: z
        .union([z.array(targetName).min(2), weights])
        .describe('The clusters: a list, or a map of target → weight (weights are used by `weighted`).'),
    })
    .optional()
    .describe('Spread the route over several clusters of one vendor. Default: none.'),
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
  contentEncodings: z
    .array(z.enum([...CONTENT_CODINGS, 'identity']))
    .default([...CONTENT_CODINGS])
    .describe(
      'Content-Encodings decoded on this route (`gzip`, `deflate` = zlib format, `br`): the decoded bytes are published, and maxBodyBytes bounds the decoded size as well as the encoded one, so a decompression bomb gets 413 after at most that much output. A body without Content-Encoding (or `identity`) is always accepted; any other coding, or more than one, → 415 (GW_ERR_UNSUPPORTED_ENCODING) with Accept-Encoding. `[]` refuses every compressed body. Default: gzip, deflate, br.',
    ),
  headers: z
    .array(z.string().regex(/^[a-z0-9-]+\*?$/i, 'a header name, optionally ending in *'))
    .default([])
    .describe(
      'Extra HTTP request headers copied onto the message (names, or prefixes ending in `*`). `ce-*`, `traceparent` and `tracestate` are always copied. Default: none.',
    ),
  delivery: z
    .enum(DELIVERY_MODES)
    .default('sync')
    .describe(
      "How a request is answered when it does not ask otherwise. `sync`: 201 after the broker confirmed. `async`: 202 once the message is fsync'd in the outbox; the relay publishes it. `fire-and-forget`: 202 at once, before anything is durable — the only mode that may lose messages. Default: sync.",
    ),
  allowAsync: z
    .boolean()
    .default(false)
    .describe(
      'Honor `Prefer: respond-async` on this route: such requests get 202 after the outbox write (with `Preference-Applied: respond-async`). Always true when delivery is async. Default: false (the preference is ignored and the request is sync).',
    ),
  degrade: z
    .enum(DEGRADE_MODES)
    .default('reject')
    .describe(
      "What a sync publish does when its target is unavailable — its circuit breaker is open, it has not connected yet, or it still fails (retriably) after the retries: `reject` answers 503 (GW_ERR_BREAKER_OPEN with Retry-After while the breaker is open, without touching the broker; nothing kept); `spool` writes the message to the outbox (to the route's first candidate) and answers 202 — and, so that a key keeps its order, also queues (202) a message whose key still has spooled messages waiting for that target, even once the target is healthy again; `failover` tries the route's next target (needs `failover:`, or `split:`/`balance:` whose other targets are then tried in order) and answers 201 from it. Caller errors (too large, invalid destination) and unroutable messages are never degraded. Default: reject.",
    ),
  schema: z
    .union([
      z.strictObject({
        file: z.string().min(1).describe('A JSON or YAML schema file, relative to the config file.'),
      }),
      z.record(z.string(), z.unknown()),
      z.boolean(),
    ])
    .optional()
    .transform((value) => routeSchemaOf(value))
    .describe(
      "JSON Schema (draft 2020-12) every JSON payload published on this route must match, on every endpoint (/v1 single and batch, CloudEvents `data`, the compatible APIs): inline, or `{file: path}` (JSON or YAML, relative to the config file's directory). Compiled at load: a schema that does not compile fails the config. A payload that does not match is refused with 422 GW_ERR_SCHEMA_VIOLATION listing each violation's path and message (at most 20); nothing is published. Payloads that are not JSON are not checked. Default: none.",
    ),
  cloudEvents: z
    .strictObject({
      mode: z
        .enum(CLOUDEVENTS_MODES)
        .default('binary')
        .describe(
          "How CloudEvents published on this route travel to the broker. `binary`: the data is the message payload and the attributes are headers named by the broker's CloudEvents binding (Kafka `ce_*`, AMQP `cloudEvents:*`, RocketMQ `CE_*`, embedded `ce-*`). `structured`: the whole event as an `application/cloudevents+json` payload. Default: binary.",
        ),
    })
    .default({ mode: 'binary' })
    .describe('CloudEvents on this route.'),
  maxDelay: z
    .union([z.number().int().min(0), z.string()])
    .default('7d')
    .transform((value, ctx) => {
      if (typeof value === 'number') return value;
      const ms = parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'a duration such as 90s, 30m, 12h, 7d, or milliseconds' });
        return z.NEVER;
      }
      return ms;
    })
    .describe(
      'Longest delay a publish may ask for on this route (`Deliver-After` / `Deliver-At`, batch `deliverAfter` / `deliverAt`); a longer one is 400 GW_ERR_INVALID_DELAY. A duration (`90s`, `30m`, `12h`, `7d`) or a number of milliseconds. Default: 7d.',
    ),
});

const apiKey = z
  .string()
  .min(1)
  .describe(
    'An API key: `sha256:<64 hex>` (recommended) or the key itself (hashed at start, with a warning).',
  );

/**
 * Rates: a number (units per second) or "<n>/<window>", the window being s, min, h, or a count of
 * them ("20/30s", "600/min"). Bytes also take a size unit: "5MB/s", "512KiB/s" (KB, MB, GB are
 * powers of 1000; KiB, MiB, GiB of 1024). Anything else is refused at start.
 */
const RATE = /^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*\/\s*(\d+)?\s*(s|sec|second|m|min|minute|h|hour)s?\s*$/i;
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};
const WINDOW_UNITS: Record<string, number> = {
  s: 1,
  sec: 1,
  second: 1,
  m: 60,
  min: 60,
  minute: 60,
  h: 3600,
  hour: 3600,
};

function rateSchema(kind: 'count' | 'bytes', description: string) {
  return z
    .union([z.number().int().positive(), z.string()])
    .transform((value, ctx) => {
      if (typeof value === 'number') return { points: value, windowSeconds: 1 };
      const match = RATE.exec(value);
      const sizeUnit = match?.[2]?.toLowerCase();
      if (!match || (kind === 'count' && sizeUnit !== undefined)) {
        ctx.addIssue({
          code: 'custom',
          message:
            kind === 'count'
              ? `"${value}" is not a rate: use a number per second or "<n>/s", "<n>/min", "<n>/<k>s"`
              : `"${value}" is not a byte rate: use a number of bytes per second or e.g. "5MB/s", "512KiB/s"`,
        });
        return z.NEVER;
      }
      const points = Math.round(Number(match[1]) * (sizeUnit === undefined ? 1 : SIZE_UNITS[sizeUnit]!));
      const windowSeconds = Number(match[3] ?? 1) * WINDOW_UNITS[match[4]!.toLowerCase()]!;
      if (points < 1 || windowSeconds < 1) {
        ctx.addIssue({
          code: 'custom',
          message: `"${value}" allows nothing: the rate must be at least 1 per window`,
        });
        return z.NEVER;
      }
      return { points, windowSeconds };
    })
    .describe(description);
}

const burstSchema = (of: string) =>
  z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      `Most ${of} accepted in one window when the tenant has been quiet; at least the rate. The extra above the rate is a pool that refills once every 10 windows. Default: the rate (no burst).`,
    );

const quotaLimitsShape = {
  rate: rateSchema(
    'count',
    'Requests per window (a batch is one request): a number per second, or "<n>/s", "<n>/min", "<n>/<k>s". Over it: 429. Default: no limit.',
  ).optional(),
  burst: burstSchema('requests'),
  messages: rateSchema(
    'count',
    'Messages per window; each message of a batch counts. Same forms as rate. Default: no limit.',
  ).optional(),
  messagesBurst: burstSchema('messages'),
  bytes: rateSchema(
    'bytes',
    'Request body bytes per window: a number per second or e.g. "5MB/s", "512KiB/s", "1GB/min". Default: no limit.',
  ).optional(),
  bytesBurst: burstSchema('bytes'),
};

const quotaSchema = z.strictObject({
  ...quotaLimitsShape,
  concurrency: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'Most requests of this tenant in progress at once (a bulkhead: further ones get 429 at once). Default: no limit.',
    ),
  topics: z
    .array(
      z.strictObject({
        topic: topicPattern.describe('Topic pattern (as the tenant names topics); the first match applies.'),
        ...quotaLimitsShape,
      }),
    )
    .default([])
    .describe(
      "Stricter limits for some of the tenant's topics, counted per tenant and pattern, checked in addition to the tenant's own. Default: none.",
    ),
});

const tenantSchema = z.strictObject({
  keys: z
    .array(apiKey)
    .default([])
    .describe(
      'API keys that authenticate as this tenant. May be empty when the tenant signs in with JWTs (auth.jwt). Default: none.',
    ),
  topics: z
    .array(topicPattern)
    .min(1)
    .describe('Topic patterns this tenant may publish to and read; everything else is 403.'),
  namespace: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated segments of [A-Za-z0-9_-]')
    .optional()
    .describe(
      'A prefix put in front of every topic this tenant names: with namespace "acme", a publish to orders.created goes to acme.orders.created (routes match the prefixed name; grants match the name without it). Default: none.',
    ),
  priority: z
    .enum(['low', 'normal', 'high'])
    .default('normal')
    .describe('Importance under overload; lower priorities are shed first. Default: normal.'),
  quota: quotaSchema.optional().describe('Rate limits and concurrency for this tenant. Default: no limits.'),
});

const jwtIssuerSchema = z
  .strictObject({
    issuer: z
      .string()
      .min(1)
      .describe('Expected `iss` claim; tokens are matched to this entry by it. Required.'),
    audience: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe('Accepted `aud` value(s); the token must name one. Required.'),
    algorithms: z
      .array(z.enum(JWT_ALGORITHMS))
      .min(1)
      .describe(
        'Allowed signing algorithms (asymmetric only; `none` and shared-secret HS* are never accepted). Required.',
      ),
    clockToleranceSeconds: z
      .number()
      .int()
      .min(0)
      .max(300)
      .default(30)
      .describe('Leeway for `exp` and `nbf`. Default: 30.'),
    jwksUri: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe(
        'URL of the JSON Web Key Set; https, or http for a loopback address. Exactly one of jwksUri, jwksFile or keys.',
      ),
    jwksFile: z
      .string()
      .min(1)
      .optional()
      .describe('A JSON Web Key Set file, read at start (relative to the working directory).'),
    keys: z
      .array(z.looseObject({ kty: z.string() }))
      .min(1)
      .optional()
      .describe('Public keys as JWKs, inline.'),
    jwksCooldownSeconds: z
      .number()
      .int()
      .min(1)
      .default(30)
      .describe(
        'Least time between two fetches of jwksUri: a token with an unknown `kid` triggers a fetch at most this often, and after a failed fetch none is tried for this long (tokens then get 503). Default: 30.',
      ),
    jwksCacheMaxAgeSeconds: z
      .number()
      .int()
      .min(1)
      .default(600)
      .describe('Keys from jwksUri are fetched again when older than this. Default: 600.'),
    jwksTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(5000)
      .describe('Longest wait for one jwksUri fetch. Default: 5000.'),
    tenantClaim: z
      .string()
      .min(1)
      .default('tenant')
      .describe('Claim naming the tenant (e.g. `sub` or a custom claim). Default: tenant.'),
    tenants: z
      .record(z.string(), z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/))
      .optional()
      .describe(
        'Map of tenant-claim value → tenant name. When given, only listed values are accepted; otherwise the claim must be a configured tenant name. Default: none.',
      ),
    scopePrefix: z
      .string()
      .default('publish:')
      .describe(
        "Scopes (`scope`, space-separated, or `scp`) starting with this prefix grant the topic pattern after it, in addition to the tenant's topics (e.g. `publish:orders.*`). Default: publish:.",
      ),
    topicsClaim: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A claim holding a list of topic patterns the token grants, in addition to the tenant's. Default: none.",
      ),
  })
  .superRefine((issuer, ctx) => {
    const sources = [issuer.jwksUri, issuer.jwksFile, issuer.keys].filter((s) => s !== undefined).length;
    if (sources !== 1) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of jwksUri, jwksFile or keys' });
    }
    if (issuer.jwksUri !== undefined) {
      const url = new URL(issuer.jwksUri);
      const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
      if (url.protocol === 'http:' && !loopback) {
        ctx.addIssue({
          code: 'custom',
          path: ['jwksUri'],
          message: 'the JWKS must be fetched over https (http only for a loopback address)',
        });
      }
    }
  });

const authSchema = z.strictObject({
  jwt: z
    .array(jwtIssuerSchema)
    .default([])
    .describe(
      'Trusted JWT issuers. A bearer token shaped like a JWT is verified against the issuer named by its `iss`. Default: none (API keys only).',
    ),
  failures: z
    .strictObject({
      maxFailures: z
        .number()
        .int()
        .positive()
        .default(20)
        .describe('Failed authentications one client address may make per window. Default: 20.'),
      windowSeconds: z.number().int().positive().default(60).describe('The window, in seconds. Default: 60.'),
    })
    .default({ maxFailures: 20, windowSeconds: 60 })
    .describe(
      'After maxFailures failed authentications from one client address, every request from it gets 429 until the window ends. Counted where the quotas are (`stores.quotas`): per process with `memory`, shared by the replicas with `redis`.',
    ),
});

const quotaStoreSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('memory').describe('Counters in this process: each replica enforces the full quota.'),
    }),
    z.strictObject({
      kind: z
        .literal('redis')
        .describe('Counters in Redis, shared by every replica with the same keyPrefix.'),
      url: z
        .string()
        .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
        .describe('Redis URL, redis://[:password@]host:6379[/db] or rediss:// (TLS). Required.'),
      keyPrefix: z
        .string()
        .min(1)
        .default('pubgate:quota')
        .describe('Prefix of every quota key. Default: pubgate:quota.'),
      connectTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(2000)
        .describe('Longest wait for a connection to Redis. Default: 2000.'),
    }),
  ])
  .default({ kind: 'memory' })
  .describe(
    'Where quota counters live. memory (default) or redis. While Redis is unreachable each process falls back to an in-memory limiter with the same quota (the fleet then admits up to replicas × quota). Default: memory.',
  );

const outboxStoreSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('sqlite').describe('One SQLite file, owned by one gateway process.'),
    path: z
      .string()
      .min(1)
      .default('./data/outbox.db')
      .describe('Database file (relative to the working directory). Default: ./data/outbox.db.'),
    maxMessages: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe('Most queued messages; beyond it async and spooled publishes answer 503. Default: 100000.'),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(256 * MiB)
      .describe(
        'Most queued payload bytes; beyond it async and spooled publishes answer 503. Default: 268435456.',
      ),
  }),
  z.strictObject({
    kind: z.literal('postgres').describe('A PostgreSQL table shared by several gateway replicas.'),
    url: z.string().min(1).describe('Connection string, e.g. postgres://user:pass@host:5432/db. Required.'),
    table: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
      .default('pubgate_outbox')
      .describe('Table name; created if missing. Default: pubgate_outbox.'),
    poolSize: z.number().int().positive().default(10).describe('Connections in the pool. Default: 10.'),
    queryTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe(
        'Longest wait for one query (and for a pool connection): a PostgreSQL that stops answering turns into 503 GW_ERR_OUTBOX_UNAVAILABLE (async, spool) and relay retries, never a hung request. Default: 5000.',
      ),
    maxMessages: z
      .number()
      .int()
      .positive()
      .default(1_000_000)
      .describe(
        'Most queued messages (checked against a count refreshed every second, shared by all replicas). Default: 1000000.',
      ),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(4096 * MiB)
      .describe('Most queued payload bytes, checked like maxMessages. Default: 4294967296.'),
  }),
]);

const transactionStoreSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('sqlite').describe('One SQLite file, owned by one gateway process.'),
      path: z
        .string()
        .min(1)
        .default('./data/transactions.db')
        .describe('Database file (relative to the working directory). Default: ./data/transactions.db.'),
    }),
    z.strictObject({
      kind: z.literal('postgres').describe('PostgreSQL tables shared by several gateway replicas.'),
      url: z.string().min(1).describe('Connection string. Required.'),
      table: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,54}$/, 'a lower-case SQL identifier')
        .default('pubgate_transactions')
        .describe(
          'Table name (messages in <table>_messages); created if missing. Default: pubgate_transactions.',
        ),
      poolSize: z.number().int().positive().default(5).describe('Connections in the pool. Default: 5.'),
      queryTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(5_000)
        .describe('Longest wait for one query or a pool connection. Default: 5000.'),
    }),
  ])
  .optional()
  .describe(
    'Where transactions and their prepared messages live. Default: like the outbox — the same PostgreSQL (table pubgate_transactions) when the outbox is postgres, else ./data/transactions.db.',
  );

const transactionsSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Serve /v1/transactions and accept Transaction-Id on publishes. Default: true.'),
  defaultTimeoutSeconds: z
    .number()
    .int()
    .positive()
    .default(60)
    .describe('How long a transaction stays open when the request names no timeoutSeconds. Default: 60.'),
  maxTimeoutSeconds: z
    .number()
    .int()
    .positive()
    .default(86_400)
    .describe('Longest timeoutSeconds a client may ask for. Default: 86400.'),
  maxMessages: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('Most messages one transaction may hold. Default: 10000.'),
  maxChecks: z
    .number()
    .int()
    .min(0)
    .default(5)
    .describe('Check-back calls for one timed-out transaction before defaultDecision applies. Default: 5.'),
  defaultDecision: z
    .enum(['commit', 'rollback'])
    .default('rollback')
    .describe('What happens to a timed-out transaction nobody decides. Default: rollback.'),
  checkTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(5_000)
    .describe('Longest wait for one check-back call. Default: 5000.'),
  checkBackoff: z
    .strictObject({
      initialDelayMs: z.number().int().positive().default(1_000),
      maxDelayMs: z.number().int().positive().default(60_000),
    })
    .default({ initialDelayMs: 1_000, maxDelayMs: 60_000 })
    .describe(
      'Waits between check-back calls that did not decide (full jitter). Default: {initialDelayMs: 1000, maxDelayMs: 60000}.',
    ),
  signingSecret: z
    .string()
    .min(16)
    .optional()
    .describe(
      'HMAC-SHA256 key of the check-back signature header Pubgate-Signature: t=<unix seconds>,v1=<hex HMAC of "<t>.<body>">. Unsigned when absent. Default: none.',
    ),
  allowedCheckUrls: z
    .array(z.string().min(1))
    .default(['https://', 'http://'])
    .describe(
      'URL prefixes a checkUrl must start with (e.g. https://hooks.internal/). Default: any http(s) URL.',
    ),
  sweepIntervalMs: z
    .number()
    .int()
    .positive()
    .default(1_000)
    .describe('How often timed-out transactions and interrupted commits are looked for. Default: 1000.'),
  leaseMs: z
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe(
      'How long a replica holds a transaction it resolves before another may take it over. Default: 30000.',
    ),
});

const idempotencyStoreSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('sqlite').describe('One SQLite file, owned by one gateway process.'),
    path: z
      .string()
      .min(1)
      .default('./data/idempotency.db')
      .describe('Database file (relative to the working directory). Default: ./data/idempotency.db.'),
  }),
  z.strictObject({
    kind: z.literal('redis').describe('Redis, shared by several gateway replicas.'),
    url: z.string().min(1).describe('e.g. redis://127.0.0.1:6379/0. Required.'),
    keyPrefix: z.string().default('pubgate:idem:').describe('Prefix of every key. Default: pubgate:idem:.'),
    commandTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(1_000)
      .describe('A Redis command slower than this fails; the request answers 503. Default: 1000.'),
  }),
]);

const storesSchema = z.strictObject({
  outbox: outboxStoreSchema
    .default({ kind: 'sqlite', path: './data/outbox.db', maxMessages: 100_000, maxBytes: 256 * MiB })
    .describe(
      'Where accepted-but-unconfirmed messages and message status live. Default: {kind: sqlite, path: ./data/outbox.db}.',
    ),
  transactions: transactionStoreSchema,
  idempotency: idempotencyStoreSchema
    .default({ kind: 'sqlite', path: './data/idempotency.db' })
    .describe('Where Idempotency-Key entries live. Default: {kind: sqlite, path: ./data/idempotency.db}.'),
  quotas: quotaStoreSchema,
});

const retrySchema = z.strictObject({
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(3)
    .describe(
      'Tries of a sync publish (first one included), all within server.publishTimeoutMs. Only retriable broker errors are retried. Default: 3.',
    ),
  baseDelayMs: z
    .number()
    .int()
    .min(0)
    .default(100)
    .describe('Backoff ceiling of the first retry; full jitter draws from [0, ceiling]. Default: 100.'),
  maxDelayMs: z.number().int().min(0).default(2_000).describe('Largest backoff ceiling. Default: 2000.'),
});

const relaySchema = z.strictObject({
  batchSize: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(100)
    .describe('Rows claimed per cycle. Default: 100.'),
  pollIntervalMs: z
    .number()
    .int()
    .min(10)
    .default(1_000)
    .describe(
      'How often an idle relay looks for due rows (it is also woken by every append). Default: 1000.',
    ),
  leaseMs: z
    .number()
    .int()
    .min(1_000)
    .default(30_000)
    .describe(
      "How long a claimed row is reserved for one relay (replica); must exceed publishTimeoutMs. With PostgreSQL, a crashed replica's rows (and the later rows of their keys) wait this long before another replica takes them; a SQLite outbox releases them when the gateway restarts. Default: 30000.",
    ),
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .default(50)
    .describe('Tries of a queued message before it is dead. Default: 50.'),
  baseDelayMs: z
    .number()
    .int()
    .min(0)
    .default(500)
    .describe("Backoff ceiling after a message's first failed try (full jitter). Default: 500."),
  maxDelayMs: z
    .number()
    .int()
    .min(0)
    .default(60_000)
    .describe('Largest per-message backoff. Default: 60000.'),
  maxAgeSeconds: z
    .number()
    .int()
    .positive()
    .default(86_400)
    .describe(
      'A message still unconfirmed this long after it was accepted (or last replayed from the dead letters) is dead. Default: 86400 (24 h).',
    ),
  targetBackoffBaseMs: z
    .number()
    .int()
    .min(0)
    .default(1_000)
    .describe(
      'Backoff ceiling of a target that is down, doubling while it stays down (full jitter). Default: 1000.',
    ),
  targetBackoffMaxMs: z
    .number()
    .int()
    .min(0)
    .default(5_000)
    .describe(
      'Largest backoff of a target that is down: how long at most a recovered target waits for the relay to notice (one probe publish per backoff). Default: 5000.',
    ),
});

const reliabilitySchema = z.strictObject({
  retry: retrySchema.default(retrySchema.parse({})).describe('Retries of synchronous publishes.'),
  relay: relaySchema.default(relaySchema.parse({})).describe('The outbox relay.'),
  statusRetentionSeconds: z
    .number()
    .int()
    .positive()
    .default(86_400)
    .describe('How long GET /v1/messages/{id} knows a confirmed or failed message. Default: 86400 (24 h).'),
  deadLetterRetentionSeconds: z
    .number()
    .int()
    .positive()
    .default(7 * 86_400)
    .describe('How long dead messages are kept for inspection and replay. Default: 604800 (7 days).'),
});

const idempotencySchema = z.strictObject({
  retentionSeconds: z
    .number()
    .int()
    .positive()
    .default(86_400)
    .describe(
      'How long the answer to a request with an Idempotency-Key is replayed to a request with the same key. Default: 86400 (24 h).',
    ),
  lockTimeoutSeconds: z
    .number()
    .int()
    .positive()
    .default(60)
    .describe(
      'An in-flight key whose request never finished (the process died) is free again after this. Default: 60.',
    ),
});

const adminSchema = z.strictObject({
  keys: z
    .array(apiKey)
    .default([])
    .describe(
      'Credentials of the admin API (/admin/v1/...), `sha256:<hex>` or plaintext. Empty: the admin API is off (404). Default: none.',
    ),
});

const faultsSchema = z.strictObject({
  crashAt: z
    .enum(['none', 'after-outbox-write', 'after-broker-ack'])
    .default('none')
    .describe(
      'FOR FAULT TESTING ONLY: the process SIGKILLs itself after an outbox write (before its publish and its answer), or after a broker ack in the relay (before the row is marked confirmed). Default: none.',
    ),
});

const shareSchema = (priority: string, fallback: number) =>
  z
    .number()
    .gt(0)
    .max(1)
    .default(fallback)
    .describe(
      `Load (0..1] at which new requests of ${priority}-priority tenants are shed. Default: ${fallback}.`,
    );

const overloadSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Shed requests by tenant priority when the gateway is overloaded. Default: true.'),
  maxInFlight: z
    .number()
    .int()
    .positive()
    .default(2000)
    .describe(
      'Admitted topic requests in progress at which the gateway counts as full (load 1.0). Default: 2000.',
    ),
  maxEventLoopDelayMs: z
    .number()
    .int()
    .positive()
    .default(200)
    .describe(
      'Event-loop delay (p99 over the last sample interval) at which the gateway counts as full. Default: 200.',
    ),
  shedAt: z
    .strictObject({
      low: shareSchema('low', 0.6),
      normal: shareSchema('normal', 0.85),
      high: shareSchema('high', 1),
    })
    .default({ low: 0.6, normal: 0.85, high: 1 })
    .describe('Share of capacity past which each priority is shed; low goes first.'),
  sampleIntervalMs: z
    .number()
    .int()
    .min(10)
    .default(500)
    .describe('How often the event-loop delay is sampled. Default: 500.'),
  retryAfterSeconds: z
    .number()
    .int()
    .positive()
    .default(1)
    .describe('Retry-After of a shed request (503 GW_ERR_OVERLOADED). Default: 1.'),
});

const reloadSchema = z.strictObject({
  watch: z
    .boolean()
    .default(true)
    .describe(
      'Reload when the config file changes (SIGHUP and POST /admin/v1/config/reload always work). Default: true.',
    ),
  debounceMs: z
    .number()
    .int()
    .min(0)
    .default(250)
    .describe('Quiet time after the last file event before the file is read. Default: 250.'),
  pollMs: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'Also re-read the file this often (for filesystems without change events); 0 = off. Default: 0.',
    ),
  drainTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(30_000)
    .describe(
      'How long requests still running on the old config may take before the broker targets it alone used are closed anyway. Default: 30000.',
    ),
  connectTimeoutMs: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe(
      'How long a reload waits for the broker targets it adds or changes to connect (retries included) before the swap; one still not connected then refuses the reload, and the running config keeps serving. Default: 10000.',
    ),
});

/**
 * Circuit breakers, one per broker target (opossum). Only broker faults count (unavailable, timeout,
 * connection lost, back-pressure, broker auth); caller errors (too large, invalid destination) and
 * unroutable messages (a route's configuration problem) never do.
 */
const breakerFields = {
  enabled: z.boolean().describe('Whether the target has a breaker at all. Default: true.'),
  errorThresholdPercentage: z
    .number()
    .min(1)
    .max(100)
    .describe('Failed share of the calls in the rolling window that opens the breaker. Default: 50.'),
  volumeThreshold: z
    .number()
    .int()
    .min(1)
    .describe(
      'Fewest calls in the window before the breaker may open (a quiet target is not judged on one call). Default: 10.',
    ),
  rollingWindowMs: z
    .number()
    .int()
    .min(100)
    .describe('Length of the rolling window the error share is computed over. Default: 10000.'),
  rollingBuckets: z
    .number()
    .int()
    .min(1)
    .max(100)
    .describe(
      'Buckets the window is split into (it slides one bucket at a time); must divide rollingWindowMs. Default: 10.',
    ),
  resetTimeoutMs: z
    .number()
    .int()
    .min(10)
    .describe(
      'How long an open breaker refuses calls before it lets one probe through (half-open): the probe closes it or opens it again. Default: 5000.',
    ),
};
export const BREAKER_DEFAULTS = {
  enabled: true,
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  resetTimeoutMs: 5_000,
} as const;
const breakerDefaultSchema = z.strictObject({
  enabled: breakerFields.enabled.default(BREAKER_DEFAULTS.enabled),
  errorThresholdPercentage: breakerFields.errorThresholdPercentage.default(
    BREAKER_DEFAULTS.errorThresholdPercentage,
  ),
  volumeThreshold: breakerFields.volumeThreshold.default(BREAKER_DEFAULTS.volumeThreshold),
  rollingWindowMs: breakerFields.rollingWindowMs.default(BREAKER_DEFAULTS.rollingWindowMs),
  rollingBuckets: breakerFields.rollingBuckets.default(BREAKER_DEFAULTS.rollingBuckets),
  resetTimeoutMs: breakerFields.resetTimeoutMs.default(BREAKER_DEFAULTS.resetTimeoutMs),
});
const breakerOverrideSchema = z.strictObject({
  enabled: breakerFields.enabled.optional(),
  errorThresholdPercentage: breakerFields.errorThresholdPercentage.optional(),
  volumeThreshold: breakerFields.volumeThreshold.optional(),
  rollingWindowMs: breakerFields.rollingWindowMs.optional(),
  rollingBuckets: breakerFields.rollingBuckets.optional(),
  resetTimeoutMs: breakerFields.resetTimeoutMs.optional(),
});
const breakersSchema = z.strictObject({
  default: breakerDefaultSchema
    .default(breakerDefaultSchema.parse({}))
    .describe("Options of every target's breaker."),
  targets: z
    .record(z.string(), breakerOverrideSchema)
    .default({})
    .describe(
      'Per-target overrides of `default`, by target name (only the options given change). Default: none.',
    ),
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
    limits: limitsSchema.default(DEFAULT_LIMITS),
    brokers: z.record(
      z.string().regex(TARGET_NAME, 'a target name: [A-Za-z0-9_-], at most 63'),
      brokerSchema,
    ),
    routes: z.array(routeSchema).min(1),
    tenants: z.record(
      z.string().regex(TENANT_NAME, 'a tenant name: [A-Za-z0-9_-], at most 63'),
      tenantSchema,
    ),
    auth: authSchema
      .default(authSchema.parse({}))
      .describe('Credentials other than API keys (JWT issuers), and the failed-authentication limit.'),
    stores: storesSchema.default(storesSchema.parse({})).describe('Durable stores of the reliability layer.'),
    reliability: reliabilitySchema
      .default(reliabilitySchema.parse({}))
      .describe('Retries, relay, status and dead-letter retention.'),
    idempotency: idempotencySchema.default(idempotencySchema.parse({})).describe('Idempotency-Key handling.'),
    breakers: breakersSchema
      .default(breakersSchema.parse({}))
      .describe('Circuit breakers, one per broker target (state: /metrics and GET /admin/v1/breakers).'),
    admin: adminSchema
      .default(adminSchema.parse({}))
      .describe('The admin API (dead letters, circuit breakers).'),
    faults: faultsSchema.default(faultsSchema.parse({})).describe('Fault injection, for fault tests only.'),
    overload: overloadSchema
      .default(overloadSchema.parse({}))
      .describe('Overload protection: shedding by tenant priority.'),
    reload: reloadSchema.default(reloadSchema.parse({})).describe('Live configuration reload.'),
    transactions: transactionsSchema
      .default(transactionsSchema.parse({}))
      .describe('Transactional (half) messages: /v1/transactions and the Transaction-Id header.'),
    compat: compatSchema
      .default(compatSchema.parse({}))
      .describe('Compatible APIs for clients teams already run (Dapr, Confluent, Strimzi, RabbitMQ HTTP).'),
  })
  .superRefine((config, ctx) => {
    checkServer(config, ctx);
    if (config.reliability.relay.leaseMs <= config.server.publishTimeoutMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['reliability', 'relay', 'leaseMs'],
        message: `must exceed server.publishTimeoutMs (${config.server.publishTimeoutMs}), or a slow publish would lose its lease and another relay could send the same row at once`,
      });
    }
    if (Object.keys(config.brokers).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['brokers'], message: 'at least one broker target is required' });
    }
    if (Object.keys(config.tenants).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['tenants'], message: 'at least one tenant is required' });
    }
    config.routes.forEach((route, i) => checkRoute(route, config.brokers, ['routes', i], ctx));
    for (const [target, options] of Object.entries(config.breakers.targets)) {
      if (!(target in config.brokers)) {
        ctx.addIssue({
          code: 'custom',
          path: ['breakers', 'targets', target],
          message: `unknown broker target "${target}"; known: ${Object.keys(config.brokers).join(', ')}`,
        });
      }
      const merged = { ...config.breakers.default, ...options };
      if (merged.rollingWindowMs % merged.rollingBuckets !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['breakers', 'targets', target, 'rollingBuckets'],
          message: `rollingBuckets (${merged.rollingBuckets}) must divide rollingWindowMs (${merged.rollingWindowMs})`,
        });
      }
    }
    if (config.breakers.default.rollingWindowMs % config.breakers.default.rollingBuckets !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['breakers', 'default', 'rollingBuckets'],
        message: 'rollingBuckets must divide rollingWindowMs',
      });
    }
    for (const [tenant, { keys, namespace, quota }] of Object.entries(config.tenants)) {
      if (keys.length === 0 && config.auth.jwt.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['tenants', tenant, 'keys'],
          message:
            'the tenant has no API key and no JWT issuer is configured (auth.jwt): it could never sign in',
        });
      }
      if (namespace !== undefined && isReservedTopic(`${namespace}.x`)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tenants', tenant, 'namespace'],
          message: 'a namespace may not start like a broker-internal name',
        });
      }
      const checkBursts = (limits: NonNullable<typeof quota>, at: (string | number)[]) => {
        for (const [rate, burst] of [
          ['rate', 'burst'],
          ['messages', 'messagesBurst'],
          ['bytes', 'bytesBurst'],
        ] as const) {
          const value = limits[burst];
          if (value === undefined) continue;
          const base = limits[rate];
          if (base === undefined || value < base.points) {
            ctx.addIssue({
              code: 'custom',
              path: [...at, burst],
              message:
                base === undefined
                  ? `${burst} needs ${rate}`
                  : `${burst} (${value}) must be at least the ${rate} (${base.points} per window)`,
            });
          }
        }
      };
      if (quota) {
        checkBursts(quota, ['tenants', tenant, 'quota']);
        quota.topics.forEach((entry, i) =>
          checkBursts({ ...entry, topics: [] }, ['tenants', tenant, 'quota', 'topics', i]),
        );
      }
    }
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

type ParsedRoute = z.infer<typeof routeSchema>;

/**
 * Node refuses to start a server whose headers timeout exceeds its request timeout; and a request
 * must be able to carry every message header the limits allow, plus the HTTP ones.
 */
function checkServer(
  config: { server: z.infer<typeof serverSchema>; limits: { maxHeaders: number } },
  ctx: z.RefinementCtx,
): void {
  const { server, limits } = config;
  if (server.headersTimeoutMs > server.requestTimeoutMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['server', 'headersTimeoutMs'],
      message: `must not exceed server.requestTimeoutMs (${server.requestTimeoutMs})`,
    });
  }
  if (server.maxHeadersCount <= limits.maxHeaders) {
    ctx.addIssue({
      code: 'custom',
      path: ['server', 'maxHeadersCount'],
      message: `must exceed limits.maxHeaders (${limits.maxHeaders}), or a message could not carry the headers the limits allow`,
    });
  }
}

/** A route names exactly one strategy, every target it names exists, and its degrade mode fits it. */
function checkRoute(
  route: ParsedRoute,
  brokers: Record<string, unknown>,
  at: (string | number)[],
  ctx: z.RefinementCtx,
): void {
  const issue = (message: string, path: (string | number)[] = []) =>
    ctx.addIssue({ code: 'custom', path: [...at, ...path], message });
  const given = STRATEGY_KEYS.filter((key) => route[key] !== undefined);
  if (given.length !== 1) {
    issue(
      given.length === 0
        ? 'a route needs one of target, failover, split, mirror or balance'
        : `a route names exactly one of target, failover, split, mirror or balance (this one has ${given.join(', ')})`,
    );
    return;
  }
  const kind = given[0]!;
  const named: { name: string; path: (string | number)[] }[] = [];
  if (route.target !== undefined) named.push({ name: route.target, path: ['target'] });
  route.failover?.forEach((name, j) => named.push({ name, path: ['failover', j] }));
  for (const name of Object.keys(route.split ?? {})) named.push({ name, path: ['split', name] });
  if (route.mirror) {
    named.push({ name: route.mirror.primary, path: ['mirror', 'primary'] });
    route.mirror.secondaries.forEach((name, j) => named.push({ name, path: ['mirror', 'secondaries', j] }));
  }
  if (route.balance) {
    const targets = route.balance.targets;
    if (Array.isArray(targets))
      targets.forEach((name, j) => named.push({ name, path: ['balance', 'targets', j] }));
    else for (const name of Object.keys(targets)) named.push({ name, path: ['balance', 'targets', name] });
  }
  const seen = new Set<string>();
  for (const { name, path } of named) {
    if (!(name in brokers)) {
      issue(`unknown broker target "${name}"; known: ${Object.keys(brokers).join(', ')}`, path);
    }
    if (seen.has(name)) issue(`target "${name}" is named twice in this route`, path);
    seen.add(name);
  }
  if (kind === 'failover' && route.degrade !== 'failover') {
    issue('a failover list is only used with `degrade: failover`', ['degrade']);
  }
  if (route.degrade === 'failover' && (kind === 'target' || kind === 'mirror')) {
    issue(
      '`degrade: failover` needs another target to fail over to: use `failover: [a, b]` (or split/balance)',
      ['degrade'],
    );
  }
}

const STRATEGY_KEYS = ['target', 'failover', 'split', 'mirror', 'balance'] as const;

export type GatewayConfig = z.infer<typeof configSchema>;
export type RouteConfig = GatewayConfig['routes'][number];
export type TenantConfig = GatewayConfig['tenants'][string];
export type ServerConfig = GatewayConfig['server'];
export type LimitsConfig = GatewayConfig['limits'];
export type AuthConfig = GatewayConfig['auth'];
export type JwtIssuerSettings = AuthConfig['jwt'][number];
export type QuotaStoreConfig = GatewayConfig['stores']['quotas'];
export type DeliveryMode = (typeof DELIVERY_MODES)[number];
export type DegradeMode = (typeof DEGRADE_MODES)[number];
export type BreakersConfig = GatewayConfig['breakers'];
export type StoresConfig = GatewayConfig['stores'];
export type ReliabilityConfig = GatewayConfig['reliability'];
export type OverloadConfig = GatewayConfig['overload'];
