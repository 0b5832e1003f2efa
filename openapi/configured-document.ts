/**
 * The document GET /openapi.json serves: the hand-written contract of index.ts, plus what this
 * gateway's configuration says about it — its routes with their limits, its input limits, where
 * it listens, the package version and the config generation.
 *
 * Pure: it reads only the plain description below, which the gateway maps its config onto, and
 * returns a new document (the base is never changed; the HTTP tests validate answers against the
 * base). The description has no field for a credential, a broker address or a tenant: whatever is
 * not in it cannot reach the document. The gateway builds it once per config generation.
 */
import type { OpenAPIV3_1 } from 'openapi-types';
import type { ReceiptFieldName } from '../adapters/core/index.js';
import { openApiDocument } from './index.js';

/** How a route spreads its messages over broker targets (the route's target, failover, split, mirror or balance). */
export interface ConfiguredStrategy {
  readonly kind: 'single' | 'failover' | 'split' | 'mirror' | 'balance';
  /**
   * Broker target names (the names under `brokers:`, never their addresses). failover: in order
   * of preference; mirror: the primary (whose outcome is the answer) first, then the copies.
   */
  readonly targets: readonly string[];
  /** split, and balance given as a map: the weight of each target. */
  readonly weights?: Readonly<Record<string, number>>;
  /** balance: round-robin, random, key-hash or weighted. */
  readonly mode?: string;
}

/** One configured route, as a client sees it. */
export interface ConfiguredRoute {
  /** Topic pattern: dot-separated segments; `*` is one segment, `**` one or more. */
  readonly topic: string;
  /** Accepted media types (415 otherwise); `*` wildcards allowed. */
  readonly contentTypes: readonly string[];
  /** Largest request body (413 above it); a batch body too. */
  readonly maxBodyBytes: number;
  /** How a request is answered when it does not ask otherwise. */
  readonly delivery: 'sync' | 'async' | 'fire-and-forget';
  /** The route's allowAsync as configured (async delivery honors `Prefer: respond-async` anyway). */
  readonly allowAsync: boolean;
  /** What a sync publish does while its target is unavailable. */
  readonly degrade: 'reject' | 'spool' | 'failover';
  /** Extra request headers copied onto the message (names, or prefixes ending in `*`). */
  readonly headers: readonly string[];
  readonly strategy: ConfiguredStrategy;
  /** The JSON Schema (2020-12) every JSON payload on the route must match; absent: none. */
  readonly payloadSchema?: unknown;
  /** How CloudEvents travel to the broker: binary (attributes as headers; absent means binary) or structured. */
  readonly cloudEventsMode?: 'binary' | 'structured';
}

/** The input limits that apply to every route (`limits:`). */
export interface ConfiguredLimits {
  readonly maxTopicLength: number;
  readonly maxBatchMessages: number;
  readonly maxJsonDepth: number;
  readonly maxHeaders: number;
  readonly maxHeaderNameLength: number;
  readonly maxHeaderValueLength: number;
  readonly maxKeyLength: number;
}

/** Everything the served document says about this gateway. */
export interface ConfiguredApi {
  /** The package version: becomes info.version. */
  readonly version: string;
  /** The config generation (1 at start, +1 per applied reload): `x-pubgate-generation`. */
  readonly generation?: number;
  /**
   * Where the gateway listens, when clients reach it there. Absent (behind a proxy, or not
   * listening yet), or a wildcard host (0.0.0.0, ::): the server is `/`, relative to where the
   * document was fetched.
   */
  readonly listener?: { readonly host: string; readonly port: number };
  readonly limits: ConfiguredLimits;
  /** In match order: the first route whose pattern matches a topic serves it. */
  readonly routes: readonly ConfiguredRoute[];
  /** The adapter kinds receipts may come from, as they declare themselves. Absent: not described. */
  readonly brokers?: ConfiguredBrokers;
}

/** What the registered adapter kinds declare about receipts (adapters/core/broker-declarations.ts). */
export interface ConfiguredBrokers {
  /** Every registered adapter kind. */
  readonly kinds: readonly string[];
  /** Per optional receipt field: the kinds that fill it, and what it holds on each. */
  readonly receiptFields: Readonly<
    Partial<Record<ReceiptFieldName, readonly { readonly kind: string; readonly description: string }[]>>
  >;
}

/** The vendor extension on the publish operations: one entry per route, in match order. */
export const ROUTES_EXTENSION = 'x-pubgate-routes';
/** Root extension: the config generation the document describes. */
export const GENERATION_EXTENSION = 'x-pubgate-generation';
/** Root extension: the input limits of every route. */
export const LIMITS_EXTENSION = 'x-pubgate-limits';

/** The schema of one `x-pubgate-routes` entry (components/schemas/PubgateRoute). */
export const ROUTE_SCHEMA: OpenAPIV3_1.SchemaObject = {
  type: 'object',
  description: `One configured route, as listed in \`${ROUTES_EXTENSION}\` on the publish operations, in match order (the first route whose pattern matches the topic serves it).`,
  required: [
    'topic',
    'contentTypes',
    'maxBodyBytes',
    'delivery',
    'allowAsync',
    'degrade',
    'headers',
    'strategy',
    'targets',
  ],
  additionalProperties: false,
  properties: {
    topic: {
      type: 'string',
      description: 'Topic pattern: dot-separated segments; `*` is one segment, `**` one or more.',
    },
    contentTypes: {
      type: 'array',
      items: { type: 'string' },
      description: 'Accepted Content-Types (415 otherwise); `*` wildcards allowed. JSON types must parse.',
    },
    maxBodyBytes: {
      type: 'integer',
      minimum: 1,
      description: 'Largest request body, a batch body included (413 above it).',
    },
    delivery: {
      type: 'string',
      enum: ['sync', 'async', 'fire-and-forget'],
      description:
        "`sync`: 201 once the broker confirmed. `async`: 202 once fsync'd in the outbox. `fire-and-forget`: 202 at once, not durable.",
    },
    allowAsync: {
      type: 'boolean',
      description: '`Prefer: respond-async` is honored (202 after the outbox write). Always true for async.',
    },
    degrade: {
      type: 'string',
      enum: ['reject', 'spool', 'failover'],
      description:
        'While the target is unavailable, a sync publish is answered 503 (`reject`), 202 from the outbox (`spool`) or by the next target (`failover`).',
    },
    headers: {
      type: 'array',
      items: { type: 'string' },
      description:
        'Extra request headers copied onto the message (names, or prefixes ending in `*`), besides `ce-*`, `traceparent` and `tracestate`.',
    },
    strategy: { type: 'string', enum: ['single', 'failover', 'split', 'mirror', 'balance'] },
    targets: {
      type: 'array',
      minItems: 1,
      items: { type: 'string' },
      description:
        'Broker target names. failover: in order of preference; mirror: the primary (which answers) first, then the targets that get a copy.',
    },
    weights: {
      type: 'object',
      additionalProperties: { type: 'number' },
      description: 'split, and weighted balance: the weight of each target.',
    },
    balanceMode: { type: 'string', description: 'balance: round-robin, random, key-hash or weighted.' },
    payloadSchema: {
      type: ['object', 'boolean'],
      description:
        "The route's payload schema (JSON Schema 2020-12, `routes[].schema`): every JSON payload published on the route (the value of a /v1 message or batch message, a CloudEvent's data) must match it, or the request is refused with 422 GW_ERR_SCHEMA_VIOLATION and nothing is published. Absent: no schema.",
    },
    cloudEventsMode: {
      type: 'string',
      enum: ['binary', 'structured'],
      description:
        "How CloudEvents published on the route reach the broker: `binary` (data as the payload, attributes as headers per the broker's CloudEvents binding) or `structured` (the whole event as an application/cloudevents+json payload). Absent: binary.",
    },
  },
};

const LIMITS_SCHEMA_DESCRIPTION: Record<keyof ConfiguredLimits, string> = {
  maxTopicLength: 'Longest topic name.',
  maxBatchMessages: 'Most messages in one batch request.',
  maxJsonDepth: 'Deepest nesting accepted in a JSON body (400 deeper).',
  maxHeaders: 'Most user headers on one message.',
  maxHeaderNameLength: 'Longest user header name.',
  maxHeaderValueLength: 'Longest user header value, in characters.',
  maxKeyLength: 'Longest Message-Key, in characters.',
};

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::', '[::]', '::0']);

/** Stands in for a wildcard segment in the topic examples. */
const EXAMPLE_SEGMENT = 'example';

/**
 * The served document: a deep copy of the base document with this gateway's servers, version,
 * generation, limits and routes. The input and the base are left as they are.
 */
export function configuredOpenApiDocument(api: ConfiguredApi): OpenAPIV3_1.Document {
  const doc = structuredClone(openApiDocument());
  const extended = doc as OpenAPIV3_1.Document & Record<string, unknown>;

  doc.info.version = api.version;
  doc.servers = [serverFor(api.listener)];
  if (api.generation !== undefined) extended[GENERATION_EXTENSION] = api.generation;
  extended[LIMITS_EXTENSION] = { ...api.limits };

  doc.components ??= {};
  const schemas = (doc.components.schemas ??= {});
  schemas.PubgateRoute = structuredClone(ROUTE_SCHEMA);
  schemas.PubgateLimits = {
    type: 'object',
    description: `The input limits of every route, as listed in \`${LIMITS_EXTENSION}\`.`,
    properties: Object.fromEntries(
      Object.entries(LIMITS_SCHEMA_DESCRIPTION).map(([name, description]) => [
        name,
        { type: 'integer', description },
      ]),
    ),
  };
  if (api.brokers) describeBrokers(doc, schemas.Receipt as OpenAPIV3_1.SchemaObject | undefined, api.brokers);
  const batch = schemas.BatchRequest as OpenAPIV3_1.SchemaObject | undefined;
  const messages = batch?.properties?.messages as OpenAPIV3_1.ArraySchemaObject | undefined;
  if (messages) {
    messages.maxItems = api.limits.maxBatchMessages;
    messages.description = `At most ${api.limits.maxBatchMessages} messages. Validated as a whole: one invalid message and nothing is published.`;
  }

  const routes = api.routes.map(routeEntry);
  const publishPaths = ['/v1/topics/{topic}/messages', '/v1/topics/{topic}/messages/batch'];
  for (const path of publishPaths) {
    const item = doc.paths?.[path];
    if (!item) continue;
    item.parameters = (item.parameters ?? []).map((parameter) =>
      '$ref' in parameter || parameter.name !== 'topic' || parameter.in !== 'path'
        ? parameter
        : topicParameter(parameter, api),
    );
    const post = item.post as (OpenAPIV3_1.OperationObject & Record<string, unknown>) | undefined;
    if (!post) continue;
    post[ROUTES_EXTENSION] = structuredClone(routes);
    post.description =
      path === '/v1/topics/{topic}/messages'
        ? routesTable(api)
        : `The routes of publishMessage apply (\`${ROUTES_EXTENSION}\`): a route's maxBodyBytes bounds the whole batch body, and each message's contentType must be one the route accepts. At most ${api.limits.maxBatchMessages} messages.`;
  }
  return doc;
}

/** Names the adapter kinds in the summary and says which kind fills which receipt field. */
function describeBrokers(
  doc: OpenAPIV3_1.Document,
  receipt: OpenAPIV3_1.SchemaObject | undefined,
  brokers: ConfiguredBrokers,
): void {
  const kinds = brokers.kinds.join(', ');
  doc.info.summary = `Publish over HTTP to message brokers (adapter kinds: ${kinds}).`;
  const properties = receipt?.properties as Record<string, OpenAPIV3_1.SchemaObject> | undefined;
  if (!properties) return;
  if (properties.broker) properties.broker.description = `Adapter kind of the target: one of ${kinds}.`;
  for (const field of ['partition', 'offset', 'brokerMessageId'] as const) {
    const property = properties[field];
    if (!property) continue;
    const fillers = brokers.receiptFields[field] ?? [];
    property.description =
      fillers.length === 0
        ? 'Set by no registered adapter kind.'
        : `Set only by ${fillers.map(({ kind, description }) => `${kind} (${description.replace(/\.$/, '')})`).join('; ')}.`;
  }
}

function serverFor(listener: ConfiguredApi['listener']): OpenAPIV3_1.ServerObject {
  if (listener === undefined || WILDCARD_HOSTS.has(listener.host)) {
    return { url: '/', description: 'The gateway that served this document.' };
  }
  const host =
    listener.host.includes(':') && !listener.host.startsWith('[') ? `[${listener.host}]` : listener.host;
  return { url: `http://${host}:${listener.port}`, description: 'The listener of this gateway.' };
}

/** Whether `Prefer: respond-async` is honored: allowAsync, or async delivery anyway. */
function honorsAsync(route: ConfiguredRoute): boolean {
  return route.allowAsync || route.delivery === 'async';
}

function routeEntry(route: ConfiguredRoute): Record<string, unknown> {
  const { strategy } = route;
  return {
    topic: route.topic,
    contentTypes: [...route.contentTypes],
    maxBodyBytes: route.maxBodyBytes,
    delivery: route.delivery,
    allowAsync: honorsAsync(route),
    degrade: route.degrade,
    headers: [...route.headers],
    strategy: strategy.kind,
    targets: [...strategy.targets],
    ...(strategy.weights === undefined ? {} : { weights: { ...strategy.weights } }),
    ...(strategy.mode === undefined ? {} : { balanceMode: strategy.mode }),
    ...(route.payloadSchema === undefined ? {} : { payloadSchema: structuredClone(route.payloadSchema) }),
    ...(route.cloudEventsMode === undefined ? {} : { cloudEventsMode: route.cloudEventsMode }),
  };
}

/** A topic a pattern matches: each wildcard segment becomes `example`. */
export function exampleTopic(pattern: string): string {
  return pattern
    .split('.')
    .map((segment) => (segment === '*' || segment === '**' ? EXAMPLE_SEGMENT : segment))
    .join('.');
}

function topicParameter(base: OpenAPIV3_1.ParameterObject, api: ConfiguredApi): OpenAPIV3_1.ParameterObject {
  const { maxTopicLength } = api.limits;
  const patterns = api.routes.map((route) => route.topic);
  const examples: Record<string, OpenAPIV3_1.ExampleObject> = {};
  const seen = new Set<string>();
  for (const pattern of patterns) {
    const value = exampleTopic(pattern);
    if (seen.has(value) || value.length > maxTopicLength) continue;
    seen.add(value);
    examples[pattern] = { summary: `A topic of the route ${pattern}`, value };
  }
  const listed = patterns.map((pattern) => `\`${pattern}\``).join(', ');
  const routed =
    patterns.length === 0
      ? 'This gateway has no routes: every topic is 404 GW_ERR_NO_ROUTE.'
      : `This gateway routes topics matching ${listed} (in that order: the first match serves the topic; \`*\` is one segment, \`**\` one or more). Any other topic is 404 GW_ERR_NO_ROUTE.`;
  return {
    ...base,
    description: `Dot-separated segments of [A-Za-z0-9_-], at most ${maxTopicLength} characters. ${routed}`,
    schema: { ...base.schema, maxLength: maxTopicLength } as OpenAPIV3_1.ParameterObject['schema'],
    ...(Object.keys(examples).length > 0 ? { examples } : {}),
  };
}

const DELIVERY_TEXT: Record<ConfiguredRoute['delivery'], string> = {
  sync: 'sync: 201 once the broker confirmed',
  async: "async: 202 once fsync'd in the outbox",
  'fire-and-forget': 'fire-and-forget: 202 at once, not durable',
};

const DEGRADE_TEXT: Record<ConfiguredRoute['degrade'], string> = {
  reject: 'reject: 503',
  spool: 'spool: 202 from the outbox',
  failover: 'failover: the next target answers',
};

/** Text safe inside a Markdown table cell. */
function cell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ');
}

function code(text: string): string {
  return text.includes('`') ? cell(text) : `\`${cell(text)}\``;
}

export function formatBytes(bytes: number): string {
  const units: [number, string][] = [
    [1024 ** 3, 'GiB'],
    [1024 ** 2, 'MiB'],
    [1024, 'KiB'],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

function targetsText(strategy: ConfiguredStrategy): string {
  const names = strategy.targets.map(code);
  const weighted = strategy.targets.map((target, i) =>
    strategy.weights?.[target] === undefined ? names[i]! : `${names[i]!} ${strategy.weights[target]}`,
  );
  switch (strategy.kind) {
    case 'single':
      return names.join(', ');
    case 'failover':
      return `failover: ${names.join(' → ')}`;
    case 'split':
      return `split: ${weighted.join(', ')}`;
    case 'mirror':
      return `mirror: ${names[0] ?? ''}${names.length > 1 ? ` (copies: ${names.slice(1).join(', ')})` : ''}`;
    case 'balance':
      return `balance${strategy.mode === undefined ? '' : ` (${cell(strategy.mode)})`}: ${weighted.join(', ')}`;
  }
}

function routesTable(api: ConfiguredApi): string {
  const rows = api.routes.map((route) =>
    [
      code(route.topic),
      route.contentTypes.map(code).join(', '),
      formatBytes(route.maxBodyBytes),
      DELIVERY_TEXT[route.delivery],
      honorsAsync(route) ? 'honored' : 'ignored',
      DEGRADE_TEXT[route.degrade],
      targetsText(route.strategy),
    ].join(' | '),
  );
  return [
    `The routes of this gateway, in match order: the first pattern that matches the topic serves it; any other topic is 404 GW_ERR_NO_ROUTE. The same, machine-readable, is in \`${ROUTES_EXTENSION}\` (each entry a components/schemas/PubgateRoute).`,
    '',
    '| topic pattern | content types | max body | delivery | Prefer: respond-async | target unavailable | targets |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row} |`),
    '',
    `Every route: at most ${api.limits.maxHeaders} user headers (names up to ${api.limits.maxHeaderNameLength} characters, values up to ${api.limits.maxHeaderValueLength}), a Message-Key up to ${api.limits.maxKeyLength} characters, JSON nested at most ${api.limits.maxJsonDepth} deep (\`${LIMITS_EXTENSION}\`).`,
  ].join('\n');
}
