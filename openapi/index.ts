/**
 * The v1 HTTP API as an OpenAPI 3.1 document: the base of what GET /openapi.json serves
 * (configured-document.ts adds this gateway's routes, limits, listener and version). Hand-written
 * on purpose: it is the contract. test/http/system.test.ts checks that every error code in the
 * gateway's registry is listed here; test/support/openapi.ts checks live answers against these
 * schemas.
 */
import type { OpenAPIV3_1 } from 'openapi-types';

type Schema = OpenAPIV3_1.SchemaObject;

/** Every GW_ERR_* code the API may answer with, by HTTP status. */
export const DOCUMENTED_ERROR_CODES: Readonly<Record<string, readonly string[]>> = {
  '400': [
    'GW_ERR_BAD_REQUEST',
    'GW_ERR_INVALID_TOPIC',
    'GW_ERR_INVALID_JSON',
    'GW_ERR_JSON_TOO_DEEP',
    'GW_ERR_INVALID_HEADER',
    'GW_ERR_INVALID_MESSAGE_ID',
    'GW_ERR_INVALID_MESSAGE_KEY',
    'GW_ERR_INVALID_BATCH',
    'GW_ERR_INVALID_QUERY',
    'GW_ERR_IDEMPOTENCY_KEY_INVALID',
    'GW_ERR_INVALID_ENCODING',
    'GW_ERR_INVALID_CLOUDEVENT',
    'GW_ERR_INVALID_DELAY',
    'GW_ERR_INVALID_TRANSACTION',
  ],
  '401': ['GW_ERR_UNAUTHENTICATED'],
  '403': ['GW_ERR_FORBIDDEN_TOPIC', 'GW_ERR_RESERVED_TOPIC', 'GW_ERR_TENANT_HEADER'],
  '404': ['GW_ERR_NOT_FOUND', 'GW_ERR_NO_ROUTE', 'GW_ERR_NO_DESTINATION'],
  '405': ['GW_ERR_METHOD_NOT_ALLOWED', 'GW_ERR_TOPIC_NOT_READABLE'],
  '408': ['GW_ERR_REQUEST_TIMEOUT'],
  '409': [
    'GW_ERR_IDEMPOTENCY_IN_FLIGHT',
    'GW_ERR_NOT_CANCELLABLE',
    'GW_ERR_TRANSACTION_CONFLICT',
    'GW_ERR_TRANSACTION_FULL',
  ],
  '413': ['GW_ERR_BODY_TOO_LARGE', 'GW_ERR_MESSAGE_TOO_LARGE'],
  '415': ['GW_ERR_UNSUPPORTED_MEDIA_TYPE', 'GW_ERR_UNSUPPORTED_ENCODING'],
  '417': ['GW_ERR_EXPECTATION_FAILED'],
  '422': ['GW_ERR_IDEMPOTENCY_MISMATCH', 'GW_ERR_SCHEMA_VIOLATION'],
  '429': ['GW_ERR_QUOTA_EXCEEDED', 'GW_ERR_TENANT_BUSY', 'GW_ERR_TOO_MANY_AUTH_FAILURES'],
  '431': ['GW_ERR_HEADERS_TOO_LARGE'],
  '500': ['GW_ERR_INTERNAL'],
  '501': ['GW_ERR_METHOD_NOT_IMPLEMENTED'],
  '503': [
    'GW_ERR_BROKER_UNAVAILABLE',
    'GW_ERR_BROKER_TIMEOUT',
    'GW_ERR_BROKER_REJECTED',
    'GW_ERR_BREAKER_OPEN',
    'GW_ERR_UNROUTABLE',
    'GW_ERR_SHUTTING_DOWN',
    'GW_ERR_OVERLOADED',
    'GW_ERR_AUTH_UNAVAILABLE',
    'GW_ERR_OUTBOX_FULL',
    'GW_ERR_OUTBOX_UNAVAILABLE',
    'GW_ERR_STORE_UNAVAILABLE',
    'GW_ERR_TRANSACTION_STORE_UNAVAILABLE',
  ],
};

const STATUS_DESCRIPTIONS: Record<string, string> = {
  '400':
    'Malformed request: bad topic name, JSON, header, id, key or batch, a body that does not decode with its Content-Encoding, or a request the HTTP parser refuses (then the connection is closed). Nothing was published.',
  '401': 'Missing or invalid credentials. Carries WWW-Authenticate.',
  '403':
    'The topic is not granted to the tenant, is broker-internal, or the request tried to choose its tenant.',
  '404': 'No route matches the topic, or no such resource.',
  '405': 'Method not allowed here. Carries Allow.',
  '409':
    'A request with the same Idempotency-Key is still being processed; retry when it has finished. On DELETE /v1/messages/{id}: the message is no longer scheduled (it was handed to the broker, or was never delayed), GW_ERR_NOT_CANCELLABLE. On transactions: decided otherwise or no longer open (GW_ERR_TRANSACTION_CONFLICT), or full (GW_ERR_TRANSACTION_FULL).',
  '422':
    "The Idempotency-Key was already used with a different request (topic, body or message headers), or a JSON payload does not match the route's schema (GW_ERR_SCHEMA_VIOLATION: `errors` lists each violation's `path` and `message`, at most 20). Nothing was published.",
  '413': "The body is over the route's limit, or a message is over the broker's maximum size.",
  '415':
    "The Content-Type is missing or not accepted by the route, or the body's Content-Encoding is not one the route decodes (the answer's Accept-Encoding lists those it does).",
  '408':
    'The request headers (server.headersTimeoutMs) or the whole request (server.requestTimeoutMs) did not arrive in time. The connection is closed; nothing was published.',
  '417': 'An Expect header other than 100-continue. The connection is closed.',
  '431':
    'The request headers are over server.maxHeaderSize bytes or server.maxHeadersCount fields. The connection is closed.',
  '501':
    'A method the gateway does not implement (CONNECT, or one it does not know). The connection is closed.',
  '429':
    'Over a limit: the tenant quota (requests, messages or bytes per window), its concurrency, or too many failed authentications from this client. Carries RateLimit-Policy (e.g. `"requests";q=10;w=1`), RateLimit (e.g. `"requests";r=0;t=1`) and Retry-After, where t equals Retry-After (seconds).',
  '500': 'Internal error; logged with the request id.',
  '503':
    "Not accepted: the broker is unavailable, its circuit breaker is open (GW_ERR_BREAKER_OPEN: the broker was not called; Retry-After is the time until the breaker lets a probe through), did not confirm in time, refused the message, the outbox is full or cannot be written, a store (idempotency) is down, the gateway is shutting down or overloaded (lower-priority tenants are shed first), or a JWT issuer's signing keys cannot be fetched. Nothing is kept; retry after Retry-After with the same Message-Id and Idempotency-Key.",
};

const stringHeader = (description: string): OpenAPIV3_1.HeaderObject => ({
  description,
  schema: { type: 'string' },
});

/** Headers some error answers always carry. */
const RESPONSE_HEADERS: Record<string, Record<string, OpenAPIV3_1.HeaderObject>> = {
  '401': { 'WWW-Authenticate': stringHeader('Bearer challenge (RFC 6750).') },
  '429': {
    'RateLimit-Policy': stringHeader('The limit that was hit: `"<name>";q=<units>;w=<seconds>`.'),
    RateLimit: stringHeader('`"<name>";r=<remaining>;t=<seconds until reset>`; t equals Retry-After.'),
    'Retry-After': stringHeader('Seconds to wait before retrying.'),
  },
  '503': { 'Retry-After': stringHeader('Seconds to wait before retrying.') },
  '415': {
    'Accept-Encoding': stringHeader(
      'With GW_ERR_UNSUPPORTED_ENCODING: the content codings the route accepts (RFC 9110 §15.5.16).',
    ),
  },
};

const ALL_CODES = Object.values(DOCUMENTED_ERROR_CODES).flat();

const problem: Schema = {
  type: 'object',
  description: 'RFC 9457 problem details with a stable machine-readable `code`.',
  required: ['type', 'title', 'status', 'detail', 'code', 'retriable'],
  properties: {
    type: { type: 'string', description: 'urn:pubgate:problem:<code>' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: ALL_CODES },
    retriable: { type: 'boolean', description: 'The same request may succeed later.' },
    instance: { type: 'string' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      description:
        'One entry per invalid or failed message of a batch, or per schema violation (GW_ERR_SCHEMA_VIOLATION).',
      items: {
        type: 'object',
        required: ['code', 'detail'],
        properties: {
          index: { type: 'integer', minimum: 0 },
          code: { type: 'string', enum: ALL_CODES },
          detail: { type: 'string' },
          path: {
            type: 'string',
            description:
              "GW_ERR_SCHEMA_VIOLATION: where in the payload, a JSON Pointer ('' is the payload itself).",
          },
          message: {
            type: 'string',
            description: 'GW_ERR_SCHEMA_VIOLATION: what the schema requires there.',
          },
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
};

const receipt: Schema = {
  type: 'object',
  required: ['broker', 'target'],
  properties: {
    broker: { type: 'string', description: "Adapter kind: the `kind` of the target's `brokers:` entry." },
    target: { type: 'string', description: 'Configured broker target name.' },
    // Which kinds fill these, and what each holds there, is added to the served document from
    // what the adapter kinds declare (configured-document.ts).
    partition: {
      type: 'integer',
      description: 'Partition the message was written to, on brokers with partitions.',
    },
    offset: {
      type: 'string',
      description: 'Position of the message on the broker (decimal string), on brokers that have one.',
    },
    brokerMessageId: {
      type: 'string',
      description: "The broker's own message id, on brokers that return one.",
    },
  },
  additionalProperties: false,
};

const confirmed: Schema = {
  type: 'object',
  required: ['id', 'topic', 'status', 'receipt'],
  properties: {
    id: { type: 'string', description: 'Message id (UUIDv7 unless the caller gave one in Message-Id).' },
    topic: { type: 'string' },
    status: { const: 'confirmed' },
    receipt: { $ref: '#/components/schemas/Receipt' },
  },
  additionalProperties: false,
};

/** What a scheduled (delayed) message's answers and status add. */
const DELAY_FIELDS: Record<string, Schema> = {
  deliverAt: {
    type: 'string',
    format: 'date-time',
    description: 'Delayed messages: when it is (or was) due, RFC 3339 UTC.',
  },
  delay: {
    enum: ['emulated', 'native'],
    description:
      "Delayed messages: the path taken. `emulated`: held in the gateway's outbox and published when due (every broker today); `native`: handed to the broker at once with its delivery time.",
  },
};

const pending: Schema = {
  type: 'object',
  required: ['id', 'topic', 'status', 'statusUrl'],
  properties: {
    id: { type: 'string' },
    topic: { type: 'string' },
    status: {
      enum: ['queued', 'accepted', 'scheduled', 'prepared'],
      description:
        "`queued`: fsync'd in the outbox; the relay will publish it. `accepted`: fire-and-forget, not durable — it may be lost. `scheduled`: delayed (Deliver-After / Deliver-At), fsync'd in the outbox; published once `deliverAt` is reached; cancellable with DELETE on its statusUrl until then. `prepared`: stored in transaction `transactionId` (Transaction-Id), invisible until the transaction is committed.",
    },
    ...DELAY_FIELDS,
    transactionId: { type: 'string', description: 'The transaction a prepared message belongs to.' },
    statusUrl: { type: 'string', description: 'GET it for the delivery status.' },
  },
  additionalProperties: false,
};

const transaction: Schema = {
  type: 'object',
  required: ['id', 'status', 'messages', 'createdAt', 'expiresAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    status: { enum: ['open', 'committing', 'committed', 'rolled-back'] },
    messages: { type: 'integer', minimum: 0, description: 'Messages prepared in it.' },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: {
      type: 'string',
      format: 'date-time',
      description: 'When the check-back (or default) takes over.',
    },
    decidedBy: { enum: ['client', 'check', 'timeout'] },
    checkUrl: { type: 'string' },
    checks: { type: 'integer', minimum: 0, description: 'Check-back calls made.' },
  },
};

const messageStatus: Schema = {
  type: 'object',
  required: ['id', 'topic', 'status', 'attempts', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    topic: { type: 'string' },
    status: {
      enum: ['queued', 'scheduled', 'confirmed', 'failed', 'dead', 'cancelled', 'prepared', 'rolled-back'],
      description:
        '`scheduled`: a delayed message not due yet (then `queued` until the relay hands it to the broker); `cancelled`: a scheduled message cancelled with DELETE; `prepared`: in an open (or committing) transaction; `rolled-back`: its transaction was rolled back, it is never delivered.',
    },
    ...DELAY_FIELDS,
    transactionId: { type: 'string' },
    attempts: { type: 'integer', minimum: 0 },
    receipt: { $ref: '#/components/schemas/Receipt' },
    lastError: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
  additionalProperties: false,
};

const breaker: Schema = {
  type: 'object',
  description: "One broker target's circuit breaker.",
  required: ['enabled', 'state', 'window'],
  properties: {
    enabled: { type: 'boolean', description: 'false: the target has no breaker (always closed).' },
    state: {
      type: 'string',
      enum: ['closed', 'half-open', 'open'],
      description:
        'closed: calls go through; open: refused without calling the broker (routes degrade); half-open: one probe call decides.',
    },
    openedAt: { type: 'string', format: 'date-time', description: 'When it last opened (while not closed).' },
    probeAt: {
      type: 'string',
      format: 'date-time',
      description: 'When it lets a probe through (while open).',
    },
    window: {
      type: 'object',
      description: 'Counts of the rolling window (breakers.*.rollingWindowMs).',
      required: ['calls', 'failures', 'rejected'],
      properties: {
        calls: { type: 'integer' },
        failures: { type: 'integer', description: 'Calls that failed through a broker fault.' },
        rejected: { type: 'integer', description: 'Calls refused while open.' },
      },
    },
  },
  additionalProperties: false,
};

const deadLetter: Schema = {
  type: 'object',
  required: ['id', 'tenant', 'topic', 'target', 'status', 'attempts', 'createdAt', 'queuedAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    tenant: { type: 'string' },
    topic: { type: 'string' },
    target: { type: 'string' },
    destination: { type: 'string' },
    key: { type: 'string' },
    contentType: { type: 'string' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    payloadBytes: { type: 'integer' },
    value: {
      type: 'string',
      description:
        'The payload as text, for JSON and text/* content types. Only in GET /admin/v1/dead-letters/{id}, not in the list.',
    },
    valueBase64: {
      type: 'string',
      format: 'byte',
      description:
        'The payload in standard base64, for any other content type. Only in GET /admin/v1/dead-letters/{id}, not in the list.',
    },
    status: { const: 'dead' },
    attempts: { type: 'integer', description: 'Tries since it was queued (or last replayed).' },
    lastError: { type: 'object' },
    createdAt: {
      type: 'string',
      format: 'date-time',
      description: 'When the gateway took the message in; a replay keeps it.',
    },
    queuedAt: {
      type: 'string',
      format: 'date-time',
      description:
        'When it last entered the queue: accepted, or replayed. `reliability.relay.maxAgeSeconds` counts from it.',
    },
    updatedAt: { type: 'string', format: 'date-time' },
  },
};

const batchRequest: Schema = {
  type: 'object',
  required: ['messages'],
  additionalProperties: false,
  properties: {
    messages: {
      type: 'array',
      minItems: 1,
      description:
        'At most `limits.maxBatchMessages` (default 500) messages. Validated as a whole: one invalid message and nothing is published.',
      items: {
        type: 'object',
        additionalProperties: false,
        description:
          'Exactly one of `value` (any JSON, published as the exact bytes written for it in the request, never re-serialized; a string is sent as its UTF-8 text when contentType is not JSON) or `valueBase64`.',
        properties: {
          id: { type: 'string', maxLength: 128 },
          key: { type: 'string', description: 'Ordering key.' },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
          value: {},
          valueBase64: { type: 'string', format: 'byte', description: 'Standard base64.' },
          contentType: {
            type: 'string',
            description: 'Default application/json (value) or application/octet-stream (valueBase64).',
          },
          deliverAfter: {
            type: ['string', 'number'],
            description:
              "Delay this message: a duration (`1500ms`, `90s`, `2m`, `1h`; a bare number is seconds), at most the route's `maxDelay` (default 7 days). Not with deliverAt. Its result is then `scheduled`.",
          },
          deliverAt: {
            type: 'string',
            format: 'date-time',
            description:
              'Deliver this message at an RFC 3339 time (with Z or an offset); a time in the past means no delay. Not with deliverAfter.',
          },
        },
      },
    },
  },
};

const batchResult: Schema = {
  type: 'object',
  required: ['topic', 'results'],
  additionalProperties: false,
  properties: {
    topic: { type: 'string' },
    results: {
      type: 'array',
      description:
        "One entry per message, in request order (`index` is the message's position in the request). Each names its `statusUrl` (GET /v1/messages/{id}): a batch answer has no single Location.",
      items: {
        oneOf: [
          {
            type: 'object',
            required: ['index', 'id', 'topic', 'status', 'receipt', 'statusUrl'],
            additionalProperties: false,
            properties: {
              index: { type: 'integer' },
              id: { type: 'string' },
              topic: { type: 'string' },
              status: { const: 'confirmed' },
              receipt: { $ref: '#/components/schemas/Receipt' },
              statusUrl: { type: 'string' },
            },
          },
          {
            type: 'object',
            required: ['index', 'id', 'topic', 'status', 'statusUrl'],
            additionalProperties: false,
            properties: {
              index: { type: 'integer' },
              id: { type: 'string' },
              topic: { type: 'string' },
              status: { enum: ['queued', 'accepted', 'scheduled', 'prepared'] },
              ...DELAY_FIELDS,
              transactionId: { type: 'string' },
              statusUrl: { type: 'string' },
            },
          },
          {
            type: 'object',
            required: ['index', 'id', 'status', 'statusUrl', 'error'],
            additionalProperties: false,
            properties: {
              index: { type: 'integer' },
              id: { type: 'string' },
              status: { const: 'failed' },
              statusUrl: { type: 'string' },
              error: { $ref: '#/components/schemas/Problem' },
            },
          },
        ],
      },
    },
  },
};

const messagesPage: Schema = {
  type: 'object',
  required: ['topic', 'messages', 'nextOffset'],
  additionalProperties: false,
  properties: {
    topic: { type: 'string' },
    nextOffset: { type: 'string', description: 'Pass as `from` to read the following page.' },
    messages: {
      type: 'array',
      items: {
        type: 'object',
        required: ['offset', 'id', 'headers', 'contentType', 'timestamp'],
        additionalProperties: false,
        properties: {
          offset: { type: 'string' },
          id: { type: 'string' },
          key: { type: 'string' },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
          contentType: { type: 'string' },
          value: { type: 'string', description: 'The payload as text, for JSON and text/* content types.' },
          valueBase64: { type: 'string', description: 'The payload, base64, for every other content type.' },
          timestamp: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
};

const health: Schema = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['ok', 'ready', 'not-ready', 'shutting-down'] },
    targets: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['ok', 'kind'],
        properties: {
          ok: { type: 'boolean' },
          kind: { type: 'string' },
          detail: { type: 'string' },
          degradable: {
            type: 'boolean',
            description:
              'On a target that is down: true when every route using it spools or fails over, so the gateway stays ready.',
          },
        },
      },
    },
  },
};

function problemResponses(statuses: readonly string[]): OpenAPIV3_1.ResponsesObject {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { $ref: `#/components/responses/Problem${status}` } as OpenAPIV3_1.ReferenceObject,
    ]),
  );
}

const topicParam: OpenAPIV3_1.ParameterObject = {
  name: 'topic',
  in: 'path',
  required: true,
  description:
    'Dot-separated segments of [A-Za-z0-9_-], at most `limits.maxTopicLength` (default 249) characters.',
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$', maxLength: 249 },
};

const headerParams: OpenAPIV3_1.ParameterObject[] = [
  {
    name: 'Content-Encoding',
    in: 'header',
    description:
      "`gzip`, `deflate` (zlib format) or `br`, where the route's `contentEncodings` lists it (default: all three): the body is decoded and the decoded bytes are published (nothing on the message says it was compressed); the route's maxBodyBytes bounds both the encoded and the decoded size (413). One coding at most; another coding, or one the route does not list → 415 with Accept-Encoding; data that does not decode → 400 GW_ERR_INVALID_ENCODING.",
    schema: { type: 'string' },
  },
  {
    name: 'Message-Id',
    in: 'header',
    description: 'Your own message id (1-128 of [A-Za-z0-9._:-]). Default: a new UUIDv7.',
    schema: { type: 'string' },
  },
  {
    name: 'Message-Key',
    in: 'header',
    description:
      'Ordering / partition key, sent once. Its bytes are read as UTF-8 (like every header copied onto the message: ce-*, traceparent, tracestate, route headers) and stored exactly; a value that is not valid UTF-8 → 400.',
    schema: { type: 'string' },
  },
  {
    name: 'Idempotency-Key',
    in: 'header',
    description:
      'At most 255 visible ASCII characters, sent once. Same key (per tenant, method and path) in flight → 409; with a different request → 422; completed → the original answer replayed with `Idempotent-Replayed: true`, for `idempotency.retentionSeconds` (default 24 h). 5xx answers are not kept.',
    schema: { type: 'string', maxLength: 255 },
  },
  {
    name: 'Prefer',
    in: 'header',
    description:
      '`respond-async` (RFC 7240): answer 202 once the message is in the outbox, where the route allows it (`Preference-Applied: respond-async`).',
    schema: { type: 'string' },
  },
  {
    name: 'Deliver-After',
    in: 'header',
    description:
      "Delayed delivery: publish after this long — `1500ms`, `90s`, `2m`, `1h`, `1d`, or a bare number of seconds; at most the route's `maxDelay` (default 7 days). Whatever the route's delivery mode, the message is fsync'd in the outbox and answered 202 `status: scheduled` with `deliverAt`; the relay publishes it once due. Not with Deliver-At; invalid or too long → 400 GW_ERR_INVALID_DELAY.",
    schema: { type: 'string' },
  },
  {
    name: 'Deliver-At',
    in: 'header',
    description:
      'Delayed delivery: publish at this RFC 3339 time (`2030-01-02T03:04:05Z`, or with an offset). A time in the past means no delay. Not with Deliver-After.',
    schema: { type: 'string', format: 'date-time' },
  },
  {
    name: 'Transaction-Id',
    in: 'header',
    description:
      'Prepare the message in this open transaction of your tenant (POST /v1/transactions) instead of delivering it: validated now, stored durably, 202 `status: prepared`, delivered only once the transaction is committed. Unknown → 404; decided or full → 409.',
    schema: { type: 'string' },
  },
  {
    name: 'X-Request-Id',
    in: 'header',
    description: 'Correlation id, echoed back and logged. Default: a new UUIDv7.',
    schema: { type: 'string' },
  },
];

export function openApiDocument(): OpenAPIV3_1.Document {
  const publishErrors = [
    ...['400', '401', '403', '404', '405', '408', '409', '413', '415', '417', '422', '429', '431'],
    ...['500', '503'],
  ];
  const accepted = (schema: string) => ({
    description:
      "Accepted, not yet confirmed: `queued` = fsync'd in the outbox (async, Prefer: respond-async, or spooled after a broker failure); `accepted` = fire-and-forget (not durable); `scheduled` = delayed (Deliver-After / Deliver-At), fsync'd in the outbox until its `deliverAt`. Location / statusUrl give the status.",
    headers: {
      Location: { schema: { type: 'string' as const } },
      'Preference-Applied': { schema: { type: 'string' as const } },
    },
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
  });
  const adminErrors = problemResponses(['400', '401', '404', '500', '503']);
  return {
    openapi: '3.1.0',
    info: {
      title: 'pubgate',
      version: '1.0.0',
      summary: 'Publish over HTTP to message brokers.',
      description:
        'A 201 means the broker confirmed a durable write. Every error is application/problem+json with a stable `code`.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearer: [] }],
    paths: {
      '/v1/topics/{topic}/messages': {
        parameters: [topicParam],
        post: {
          operationId: 'publishMessage',
          summary: 'Publish one message; the body is the payload.',
          parameters: headerParams,
          requestBody: {
            required: true,
            description:
              "Any content type the route accepts (default: application/json, application/*+json, text/plain, application/octet-stream). JSON bodies must parse, and match the route's schema if it has one (422 GW_ERR_SCHEMA_VIOLATION). `ce-*`, `traceparent` and `tracestate` headers travel with the message. CloudEvents 1.0: binary mode (`ce-id` / `ce-specversion` headers; validated, the event id is the message id), structured mode (`application/cloudevents+json`: one event; its `data` or `data_base64` is the payload, `datacontenttype` its content type) and batched mode (`application/cloudevents-batch+json`: one message per event, answered with per-event results like publishBatch). An invalid event is 400 GW_ERR_INVALID_CLOUDEVENT.",
            content: {
              '*/*': { schema: {} },
              'application/cloudevents+json': { schema: { type: 'object' } },
              'application/cloudevents-batch+json': { schema: { type: 'array', items: { type: 'object' } } },
            },
          },
          responses: {
            '201': {
              description:
                'The broker confirmed a durable write (a batch of CloudEvents: every event, with per-event results).',
              headers: { Location: { schema: { type: 'string' } } },
              content: {
                'application/json': {
                  schema: {
                    oneOf: [
                      { $ref: '#/components/schemas/Confirmed' },
                      { $ref: '#/components/schemas/BatchResult' },
                    ],
                  },
                },
              },
            },
            '202': {
              ...accepted('Pending'),
              content: {
                'application/json': {
                  schema: {
                    oneOf: [
                      { $ref: '#/components/schemas/Pending' },
                      { $ref: '#/components/schemas/BatchResult' },
                    ],
                  },
                },
              },
            },
            '207': {
              description:
                'A batch of CloudEvents of which some were accepted and some failed (per-event results).',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchResult' } } },
            },
            ...problemResponses(publishErrors),
          },
        },
        get: {
          operationId: 'readMessages',
          summary: 'Read stored messages from a readable target (the embedded broker).',
          parameters: [
            { name: 'from', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            },
          ],
          responses: {
            '200': {
              description: 'A page of messages in offset order.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/MessagesPage' } } },
            },
            ...problemResponses(['400', '401', '403', '404', '405', '429', '500', '503']),
          },
        },
      },
      '/v1/topics/{topic}/messages/batch': {
        parameters: [topicParam],
        post: {
          operationId: 'publishBatch',
          summary: 'Publish several messages; per-message results in request order.',
          parameters: headerParams.filter((p) =>
            ['Idempotency-Key', 'Prefer', 'Transaction-Id'].includes(p.name),
          ),
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchRequest' } } },
          },
          responses: {
            '201': {
              description: 'Every message was confirmed.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchResult' } } },
            },
            '202': accepted('BatchResult'),
            '207': {
              description: 'Some messages were confirmed and some failed; see each result.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchResult' } } },
            },
            ...problemResponses(publishErrors),
          },
        },
      },
      '/v1/messages/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          operationId: 'messageStatus',
          summary: "Delivery status of one of your tenant's messages (another tenant's id is 404).",
          responses: {
            '200': {
              description:
                'queued | scheduled | confirmed | failed | dead | cancelled, attempts, receipt, last error; deliverAt and delay for a delayed message.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/MessageStatus' } } },
            },
            ...problemResponses(['401', '404', '500', '503']),
          },
        },
        delete: {
          operationId: 'cancelMessage',
          summary:
            'Cancel a scheduled (delayed) message before it is handed to the broker; it is then never published.',
          responses: {
            '200': {
              description:
                'Cancelled (also when it already was): its status, `cancelled`. The cancel is atomic with the relay: a message is never both cancelled and published.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/MessageStatus' } } },
            },
            ...problemResponses(['401', '404', '409', '500', '503']),
          },
        },
      },
      '/v1/transactions': {
        post: {
          operationId: 'openTransaction',
          summary:
            'Open a transaction: publishes with its id in Transaction-Id are prepared (invisible) until it is committed or rolled back.',
          requestBody: {
            required: false,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    timeoutSeconds: {
                      type: 'integer',
                      minimum: 1,
                      description:
                        'Undecided this long, it is resolved by checkUrl, else by transactions.defaultDecision. Default: transactions.defaultTimeoutSeconds (60).',
                    },
                    checkUrl: {
                      type: 'string',
                      format: 'uri',
                      description:
                        'POSTed {transactionId, tenant, messages} after the timeout (signed with Pubgate-Signature when transactions.signingSecret is set); answers {decision: commit | rollback | unknown}.',
                    },
                  },
                },
              },
            },
          },
          responses: {
            '201': {
              description: 'Opened.',
              headers: { Location: { schema: { type: 'string' } } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Transaction' } } },
            },
            ...problemResponses(['400', '401', '500', '503']),
          },
        },
      },
      '/v1/transactions/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: {
          operationId: 'transactionStatus',
          summary: "One of your tenant's transactions (another tenant's is 404).",
          responses: {
            '200': {
              description: 'Its state and message count.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Transaction' } } },
            },
            ...problemResponses(['401', '404', '500', '503']),
          },
        },
      },
      ...Object.fromEntries(
        (['commit', 'rollback'] as const).map((verb) => [
          `/v1/transactions/{id}/${verb}`,
          {
            parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
            post: {
              operationId: verb === 'commit' ? 'commitTransaction' : 'rollbackTransaction',
              summary:
                verb === 'commit'
                  ? 'Commit: every prepared message is delivered (in publish order per key). Idempotent; after a rollback 409.'
                  : 'Roll back: no prepared message is ever delivered. Idempotent; after (or during) a commit 409.',
              responses: {
                '200': {
                  description: verb === 'commit' ? 'committed' : 'rolled-back',
                  content: { 'application/json': { schema: { $ref: '#/components/schemas/Transaction' } } },
                },
                ...problemResponses(['401', '404', '409', '500', '503']),
              },
            },
          },
        ]),
      ),
      '/admin/v1/dead-letters': {
        get: {
          operationId: 'listDeadLetters',
          summary: 'Dead messages, oldest first (admin key). Filters: tenant, topic; paging: limit, cursor.',
          security: [{ admin: [] }],
          parameters: ['tenant', 'topic', 'cursor', 'limit'].map((name) => ({
            name,
            in: 'query',
            schema:
              name === 'limit'
                ? { type: 'integer', minimum: 1, maximum: 1000, default: 100 }
                : { type: 'string' },
          })),
          responses: {
            '200': {
              description: 'A page of dead letters; pass nextCursor as cursor for the next.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['items'],
                    properties: {
                      items: { type: 'array', items: { $ref: '#/components/schemas/DeadLetter' } },
                      nextCursor: { type: 'string' },
                    },
                  },
                },
              },
            },
            ...adminErrors,
          },
        },
      },
      '/admin/v1/dead-letters/replay': {
        post: {
          operationId: 'replayDeadLetters',
          summary:
            'Put every dead message of a tenant (and topic) back in the queue (admin key): attempts reset, age counted from the replay.',
          security: [{ admin: [] }],
          parameters: ['tenant', 'topic'].map((name) => ({
            name,
            in: 'query',
            required: name === 'tenant',
            schema: { type: 'string' },
          })),
          responses: {
            '200': {
              description: 'How many were replayed.',
              content: {
                'application/json': {
                  schema: { type: 'object', properties: { replayed: { type: 'integer' } } },
                },
              },
            },
            ...adminErrors,
          },
        },
      },
      '/admin/v1/dead-letters/purge': {
        post: {
          operationId: 'purgeDeadLetters',
          summary:
            'Delete every dead message of a tenant (and topic), or with all=true every dead message (admin key). Without a filter: 400.',
          security: [{ admin: [] }],
          parameters: [
            ...['tenant', 'topic'].map((name) => ({
              name,
              in: 'query' as const,
              description: name === 'tenant' ? 'Required unless all=true.' : 'Only with tenant.',
              schema: { type: 'string' as const },
            })),
            {
              name: 'all',
              in: 'query',
              description: 'true: every dead message, of every tenant (no tenant or topic then).',
              schema: { type: 'boolean' },
            },
          ],
          responses: {
            '200': {
              description: 'How many were deleted.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['purged'],
                    properties: { purged: { type: 'integer', minimum: 0 } },
                  },
                },
              },
            },
            ...adminErrors,
          },
        },
      },
      '/admin/v1/dead-letters/{id}': {
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
          {
            name: 'tenant',
            in: 'query',
            description: "Only the tenant's message of that id.",
            schema: { type: 'string' },
          },
        ],
        get: {
          operationId: 'getDeadLetter',
          summary: 'One dead message, with its payload (value or valueBase64) (admin key).',
          security: [{ admin: [] }],
          responses: {
            '200': {
              description: 'The dead letter.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/DeadLetter' } } },
            },
            ...adminErrors,
          },
        },
        delete: {
          operationId: 'deleteDeadLetter',
          summary:
            'Delete one dead message for good (admin key); 404 when there is no dead message of that id.',
          security: [{ admin: [] }],
          responses: {
            '200': {
              description: 'Deleted.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['deleted'],
                    properties: { deleted: { type: 'integer', minimum: 1 } },
                  },
                },
              },
            },
            ...adminErrors,
          },
        },
      },
      '/admin/v1/dead-letters/{id}/replay': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        post: {
          operationId: 'replayDeadLetter',
          summary:
            'Put one dead message back in the queue (admin key): attempts reset, and its age (maxAgeSeconds) counts from the replay.',
          security: [{ admin: [] }],
          responses: {
            '200': {
              description: 'Replayed.',
              content: {
                'application/json': {
                  schema: { type: 'object', properties: { replayed: { type: 'integer' } } },
                },
              },
            },
            ...adminErrors,
          },
        },
      },
      '/admin/v1/config/reload': {
        post: {
          operationId: 'reloadConfig',
          summary:
            'Reload the configuration now (admin key): validated, then swapped atomically; an invalid one is refused and the running one kept.',
          security: [{ admin: [] }],
          responses: {
            '200': {
              description:
                '`applied` (new generation running), `unchanged` (same config), or `refused` with the reasons (the running config stays).',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['outcome', 'generation'],
                    properties: {
                      outcome: { type: 'string', enum: ['applied', 'unchanged', 'refused'] },
                      generation: { type: 'integer' },
                      errors: { type: 'array', items: { type: 'string' } },
                      targets: {
                        type: 'object',
                        properties: {
                          kept: { type: 'array', items: { type: 'string' } },
                          added: { type: 'array', items: { type: 'string' } },
                          replaced: { type: 'array', items: { type: 'string' } },
                          removed: { type: 'array', items: { type: 'string' } },
                        },
                      },
                    },
                  },
                },
              },
            },
            ...problemResponses(['401', '500', '503']),
          },
        },
      },
      '/admin/v1/breakers': {
        get: {
          operationId: 'listBreakers',
          summary:
            'The circuit breaker of every broker target (admin key): state, when it opened, when it lets a probe through, and the counts of its rolling window.',
          security: [{ admin: [] }],
          responses: {
            '200': {
              description: 'Breakers by target name.',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['targets'],
                    properties: {
                      targets: {
                        type: 'object',
                        additionalProperties: { $ref: '#/components/schemas/Breaker' },
                      },
                    },
                  },
                },
              },
            },
            ...problemResponses(['401', '500']),
          },
        },
      },
      '/livez': {
        get: {
          operationId: 'livez',
          security: [],
          summary: 'The process answers.',
          responses: {
            '200': {
              description: 'Alive.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
            },
          },
        },
      },
      '/readyz': {
        get: {
          operationId: 'readyz',
          security: [],
          summary:
            'Ready to serve: not shutting down, and every broker target reachable or degradable (each route using it spools or fails over).',
          responses: {
            '200': {
              description: 'Ready.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
            },
            '503': {
              description:
                'Not ready (a target is down behind a route that would answer 503, or shutting down). Carries Retry-After.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
            },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          security: [],
          summary: 'Prometheus metrics.',
          responses: {
            '200': {
              description: 'Text exposition format.',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          security: [],
          summary: 'This document.',
          responses: {
            '200': {
              description: 'OpenAPI 3.1.',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            "An API key of your tenant, or a JWT of a trusted issuer (the tenant comes from the token's tenant claim).",
        },
        admin: {
          type: 'http',
          scheme: 'bearer',
          description:
            'An admin key (`admin.keys`). Without admin keys configured the admin API is off (404).',
        },
      },
      schemas: {
        Problem: problem,
        Receipt: receipt,
        Confirmed: confirmed,
        Pending: pending,
        MessageStatus: messageStatus,
        Transaction: transaction,
        DeadLetter: deadLetter,
        Breaker: breaker,
        BatchRequest: batchRequest,
        BatchResult: batchResult,
        MessagesPage: messagesPage,
        Health: health,
      },
      responses: Object.fromEntries(
        Object.entries(DOCUMENTED_ERROR_CODES).map(([status, codes]) => [
          `Problem${status}`,
          {
            description: `${STATUS_DESCRIPTIONS[status]} Codes: ${codes.join(', ')}.`,
            ...(RESPONSE_HEADERS[status] === undefined ? {} : { headers: RESPONSE_HEADERS[status] }),
            content: {
              'application/problem+json': {
                schema: {
                  allOf: [
                    { $ref: '#/components/schemas/Problem' },
                    { properties: { code: { enum: [...codes] } } },
                  ],
                },
              },
            },
          },
        ]),
      ),
    },
  };
}
