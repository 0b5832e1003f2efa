/**
 * The v1 HTTP API as an OpenAPI 3.1 document, served at GET /openapi.json. Hand-written on
 * purpose: it is the contract. test/http/openapi-contract.test.ts checks that every error code in
 * the gateway's registry is listed here and that live answers match these schemas.
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
  ],
  '401': ['GW_ERR_UNAUTHENTICATED'],
  '403': ['GW_ERR_FORBIDDEN_TOPIC', 'GW_ERR_RESERVED_TOPIC', 'GW_ERR_TENANT_HEADER'],
  '404': ['GW_ERR_NOT_FOUND', 'GW_ERR_NO_ROUTE'],
  '405': ['GW_ERR_METHOD_NOT_ALLOWED', 'GW_ERR_TOPIC_NOT_READABLE'],
  '413': ['GW_ERR_BODY_TOO_LARGE', 'GW_ERR_MESSAGE_TOO_LARGE'],
  '415': ['GW_ERR_UNSUPPORTED_MEDIA_TYPE'],
  '500': ['GW_ERR_INTERNAL'],
  '503': [
    'GW_ERR_BROKER_UNAVAILABLE',
    'GW_ERR_BROKER_TIMEOUT',
    'GW_ERR_BROKER_REJECTED',
    'GW_ERR_UNROUTABLE',
    'GW_ERR_SHUTTING_DOWN',
  ],
};

const STATUS_DESCRIPTIONS: Record<string, string> = {
  '400': 'Malformed request: bad topic name, JSON, header, id, key or batch. Nothing was published.',
  '401': 'Missing or invalid credentials. Carries WWW-Authenticate.',
  '403':
    'The topic is not granted to the tenant, is broker-internal, or the request tried to choose its tenant.',
  '404': 'No route matches the topic, or no such resource.',
  '405': 'Method not allowed here. Carries Allow.',
  '413': "The body is over the route's limit, or a message is over the broker's maximum size.",
  '415': 'The Content-Type is missing or not accepted by the route.',
  '500': 'Internal error; logged with the request id.',
  '503':
    'Not accepted: the broker is unavailable, did not confirm in time, refused the message, or the gateway is shutting down. Nothing is kept; retry after Retry-After with the same Message-Id.',
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
      description: 'One entry per invalid or failed message of a batch.',
      items: {
        type: 'object',
        required: ['code', 'detail'],
        properties: {
          index: { type: 'integer', minimum: 0 },
          code: { type: 'string', enum: ALL_CODES },
          detail: { type: 'string' },
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
    broker: { type: 'string', description: 'Adapter kind: embedded, kafka, rabbitmq, rocketmq.' },
    target: { type: 'string', description: 'Configured broker target name.' },
    partition: { type: 'integer', description: 'Kafka partition.' },
    offset: { type: 'string', description: 'Kafka or embedded offset (decimal string).' },
    brokerMessageId: { type: 'string', description: "The broker's own message id (RocketMQ)." },
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
          'Exactly one of `value` (any JSON; a string is sent as text when contentType is not JSON) or `valueBase64`.',
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
      description: 'One entry per message, in request order.',
      items: {
        oneOf: [
          {
            type: 'object',
            required: ['index', 'id', 'topic', 'status', 'receipt'],
            additionalProperties: false,
            properties: {
              index: { type: 'integer' },
              id: { type: 'string' },
              topic: { type: 'string' },
              status: { const: 'confirmed' },
              receipt: { $ref: '#/components/schemas/Receipt' },
            },
          },
          {
            type: 'object',
            required: ['index', 'id', 'status', 'error'],
            additionalProperties: false,
            properties: {
              index: { type: 'integer' },
              id: { type: 'string' },
              status: { const: 'failed' },
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
        properties: { ok: { type: 'boolean' }, kind: { type: 'string' }, detail: { type: 'string' } },
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
    name: 'Message-Id',
    in: 'header',
    description: 'Your own message id (1-128 of [A-Za-z0-9._:-]). Default: a new UUIDv7.',
    schema: { type: 'string' },
  },
  { name: 'Message-Key', in: 'header', description: 'Ordering / partition key.', schema: { type: 'string' } },
  {
    name: 'X-Request-Id',
    in: 'header',
    description: 'Correlation id, echoed back and logged. Default: a new UUIDv7.',
    schema: { type: 'string' },
  },
];

export function openApiDocument(): OpenAPIV3_1.Document {
  const publishErrors = ['400', '401', '403', '404', '405', '413', '415', '500', '503'];
  return {
    openapi: '3.1.0',
    info: {
      title: 'pubgate',
      version: '1.0.0',
      summary: 'Publish over HTTP to Kafka, RabbitMQ, RocketMQ or the embedded broker.',
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
              'Any content type the route accepts (default: application/json, application/*+json, text/plain, application/octet-stream). JSON bodies must parse. `ce-*`, `traceparent` and `tracestate` headers travel with the message.',
            content: { '*/*': { schema: {} } },
          },
          responses: {
            '201': {
              description: 'The broker confirmed a durable write.',
              headers: { Location: { schema: { type: 'string' } } },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Confirmed' } } },
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
            ...problemResponses(['400', '401', '403', '404', '405', '500', '503']),
          },
        },
      },
      '/v1/topics/{topic}/messages/batch': {
        parameters: [topicParam],
        post: {
          operationId: 'publishBatch',
          summary: 'Publish several messages; per-message results in request order.',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchRequest' } } },
          },
          responses: {
            '201': {
              description: 'Every message was confirmed.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchResult' } } },
            },
            '207': {
              description: 'Some messages were confirmed and some failed; see each result.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchResult' } } },
            },
            ...problemResponses(publishErrors),
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
          summary: 'Every broker target is reachable.',
          responses: {
            '200': {
              description: 'Ready.',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
            },
            '503': {
              description: 'Not ready (a target is down, or shutting down). Carries Retry-After.',
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
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key of your tenant.' },
      },
      schemas: {
        Problem: problem,
        Receipt: receipt,
        Confirmed: confirmed,
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
