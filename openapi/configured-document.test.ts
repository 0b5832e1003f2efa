/* eslint-disable @typescript-eslint/no-explicit-any -- the broken documents are built by hand */
/** The served document: the base contract plus this gateway's routes, limits, listener and version. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { assertValidOpenApi31 } from '../test/support/openapi.js';
import {
  configuredOpenApiDocument,
  exampleTopic,
  formatBytes,
  ROUTE_SCHEMA,
  type ConfiguredApi,
} from './configured-document.js';
import { DOCUMENTED_ERROR_CODES, openApiDocument } from './index.js';

const LIMITS = {
  maxTopicLength: 120,
  maxBatchMessages: 50,
  maxJsonDepth: 16,
  maxHeaders: 8,
  maxHeaderNameLength: 64,
  maxHeaderValueLength: 1024,
  maxKeyLength: 100,
};

const API: ConfiguredApi = {
  version: '9.8.7',
  generation: 4,
  listener: { host: '127.0.0.1', port: 8080 },
  limits: LIMITS,
  routes: [
    {
      topic: 'orders.*',
      contentTypes: ['application/json'],
      maxBodyBytes: 64 * 1024,
      delivery: 'sync',
      allowAsync: true,
      degrade: 'spool',
      headers: ['x-trace-*'],
      strategy: {
        kind: 'split',
        targets: ['main', 'canary'],
        weights: { main: 90, canary: 10 },
      },
    },
    {
      topic: 'audit.**',
      contentTypes: ['text/plain'],
      maxBodyBytes: 1000,
      delivery: 'async',
      allowAsync: false,
      degrade: 'failover',
      headers: [],
      strategy: { kind: 'failover', targets: ['a|b', 'local'] },
    },
    {
      topic: '**',
      contentTypes: ['application/octet-stream'],
      maxBodyBytes: 2 * 1024 * 1024,
      delivery: 'fire-and-forget',
      allowAsync: false,
      degrade: 'reject',
      headers: [],
      strategy: { kind: 'balance', mode: 'key-hash', targets: ['k1', 'k2'] },
    },
  ],
};

type Doc = ReturnType<typeof configuredOpenApiDocument> & Record<string, unknown>;
type Op = Record<string, unknown> & { description?: string };

const publish = (doc: Doc) => doc.paths?.['/v1/topics/{topic}/messages']?.post as Op;
const batch = (doc: Doc) => doc.paths?.['/v1/topics/{topic}/messages/batch']?.post as Op;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

describe('configured OpenAPI document', () => {
  it('is valid OpenAPI 3.1 and still documents every error code', () => {
    const doc = configuredOpenApiDocument(API);
    assertValidOpenApi31(doc);
    const base = openApiDocument();
    for (const [status, codes] of Object.entries(DOCUMENTED_ERROR_CODES)) {
      assert.deepEqual(
        doc.components?.responses?.[`Problem${status}`],
        base.components?.responses?.[`Problem${status}`],
      );
      assert.ok(codes.length > 0);
    }
    assert.deepEqual(doc.components?.schemas?.Problem, base.components?.schemas?.Problem);
    assert.deepEqual(Object.keys(doc.paths ?? {}), Object.keys(base.paths ?? {}));
  });

  it('the validity check refuses a broken document', () => {
    const broken = (change: (doc: Record<string, any>) => void) => {
      const doc = configuredOpenApiDocument(API) as Record<string, any>;
      change(doc);
      return () => assertValidOpenApi31(doc);
    };
    assert.throws(broken((doc) => (doc.openapi = '3.0.3')));
    assert.throws(
      broken((doc) => (doc.routes = [])),
      /routes is not an OpenAPI 3.1 field/,
    );
    assert.throws(
      broken((doc) => (doc.paths['/v1/messages/{id}'].get.responses['200'] = { $ref: '#/nowhere' })),
    );
    assert.throws(
      broken(
        (doc) => (doc.paths['/v1/topics/{topic}/messages'].parameters[0].examples.bad = { value: 'a b' }),
      ),
      /does not match the schema/,
    );
    assert.throws(
      broken((doc) => (doc.components.schemas.Receipt = { type: 'no-such-type' })),
      /does not compile/,
    );
    assert.throws(
      broken((doc) => (doc.paths['/v1/messages/{id}'].parameters = [])),
      /undeclared/,
    );
  });

  it('leaves the base document and its input unchanged', () => {
    const before = JSON.stringify(openApiDocument());
    const input = deepFreeze(structuredClone(API));
    const doc = configuredOpenApiDocument(input);
    assert.equal(JSON.stringify(openApiDocument()), before);
    assert.deepEqual(input, API);
    // Two documents share nothing: changing one leaves the other as it was.
    const other = configuredOpenApiDocument(input) as Doc;
    (publish(doc as Doc)['x-pubgate-routes'] as unknown[]).length = 0;
    assert.equal((publish(other)['x-pubgate-routes'] as unknown[]).length, 3);
  });

  it('gives the package version, the config generation and the limits', () => {
    const doc = configuredOpenApiDocument(API) as Doc;
    assert.equal(doc.info.version, '9.8.7');
    assert.equal(doc['x-pubgate-generation'], 4);
    assert.deepEqual(doc['x-pubgate-limits'], LIMITS);
    const batchSchema = doc.components?.schemas?.BatchRequest as {
      properties: { messages: { maxItems: number } };
    };
    assert.equal(batchSchema.properties.messages.maxItems, 50);
    const noGeneration = configuredOpenApiDocument({ ...API, generation: undefined }) as Doc;
    assert.equal('x-pubgate-generation' in noGeneration, false);
  });

  it('names the listener as the server, or / when clients may reach it elsewhere', () => {
    const url = (listener: ConfiguredApi['listener']) =>
      configuredOpenApiDocument({ ...API, listener }).servers?.map((s) => s.url);
    assert.deepEqual(url({ host: '127.0.0.1', port: 8080 }), ['http://127.0.0.1:8080']);
    assert.deepEqual(url({ host: 'gateway.internal', port: 80 }), ['http://gateway.internal:80']);
    assert.deepEqual(url({ host: '::1', port: 9000 }), ['http://[::1]:9000']);
    assert.deepEqual(url({ host: '0.0.0.0', port: 8080 }), ['/']);
    assert.deepEqual(url({ host: '::', port: 8080 }), ['/']);
    assert.deepEqual(url(undefined), ['/']);
  });

  it('lists every route with its limits in x-pubgate-routes on both publish operations', () => {
    const doc = configuredOpenApiDocument(API) as Doc;
    const expected = [
      {
        topic: 'orders.*',
        contentTypes: ['application/json'],
        maxBodyBytes: 65536,
        delivery: 'sync',
        allowAsync: true,
        degrade: 'spool',
        headers: ['x-trace-*'],
        strategy: 'split',
        targets: ['main', 'canary'],
        weights: { main: 90, canary: 10 },
      },
      {
        topic: 'audit.**',
        contentTypes: ['text/plain'],
        maxBodyBytes: 1000,
        delivery: 'async',
        allowAsync: true, // async delivery always honors respond-async
        degrade: 'failover',
        headers: [],
        strategy: 'failover',
        targets: ['a|b', 'local'],
      },
      {
        topic: '**',
        contentTypes: ['application/octet-stream'],
        maxBodyBytes: 2097152,
        delivery: 'fire-and-forget',
        allowAsync: false,
        degrade: 'reject',
        headers: [],
        strategy: 'balance',
        targets: ['k1', 'k2'],
        balanceMode: 'key-hash',
      },
    ];
    assert.deepEqual(publish(doc)['x-pubgate-routes'], expected);
    assert.deepEqual(batch(doc)['x-pubgate-routes'], expected);
    // Each entry is what components/schemas/PubgateRoute says.
    assert.deepEqual(doc.components?.schemas?.PubgateRoute, ROUTE_SCHEMA);
    const validate = new Ajv2020({ strict: false }).compile(ROUTE_SCHEMA);
    for (const entry of expected) assert.ok(validate(entry), JSON.stringify(validate.errors));
  });

  it('puts a table of the routes in the publish description', () => {
    const description = publish(configuredOpenApiDocument(API) as Doc).description ?? '';
    const lines = description.split('\n');
    assert.ok(lines.includes('| --- | --- | --- | --- | --- | --- | --- |'), description);
    assert.ok(
      lines.includes(
        '| `orders.*` | `application/json` | 64 KiB | sync: 201 once the broker confirmed | honored | spool: 202 from the outbox | split: `main` 90, `canary` 10 |',
      ),
      description,
    );
    assert.ok(
      lines.includes(
        "| `audit.**` | `text/plain` | 1000 bytes | async: 202 once fsync'd in the outbox | honored | failover: the next target answers | failover: `a\\|b` → `local` |",
      ),
      description,
    );
    assert.ok(
      lines.includes(
        '| `**` | `application/octet-stream` | 2 MiB | fire-and-forget: 202 at once, not durable | ignored | reject: 503 | balance (key-hash): `k1`, `k2` |',
      ),
      description,
    );
    assert.match(batch(configuredOpenApiDocument(API) as Doc).description ?? '', /At most 50 messages/);
  });

  it('describes the topic parameter with the configured patterns and examples made from them', () => {
    const doc = configuredOpenApiDocument(API);
    for (const path of ['/v1/topics/{topic}/messages', '/v1/topics/{topic}/messages/batch']) {
      const topic = doc.paths?.[path]?.parameters?.[0] as {
        description: string;
        schema: { maxLength: number };
        examples: Record<string, { value: string }>;
      };
      assert.match(topic.description, /`orders\.\*`, `audit\.\*\*`, `\*\*`/);
      assert.match(topic.description, /at most 120 characters/);
      assert.equal(topic.schema.maxLength, 120);
      assert.deepEqual(
        Object.fromEntries(Object.entries(topic.examples).map(([name, example]) => [name, example.value])),
        { 'orders.*': 'orders.example', 'audit.**': 'audit.example', '**': 'example' },
      );
    }
  });

  it('says which adapter kinds fill which receipt field, from what the kinds declare', () => {
    const doc = configuredOpenApiDocument({
      ...API,
      brokers: {
        kinds: ['alpha', 'beta'],
        receiptFields: {
          offset: [
            { kind: 'alpha', description: 'Position in the log.' },
            { kind: 'beta', description: 'Offset in the partition.' },
          ],
          partition: [{ kind: 'beta', description: 'Partition written to.' }],
        },
      },
    });
    assertValidOpenApi31(doc);
    const receipt = doc.components?.schemas?.Receipt as {
      properties: Record<string, { description: string }>;
    };
    assert.equal(receipt.properties.broker!.description, 'Adapter kind of the target: one of alpha, beta.');
    assert.equal(
      receipt.properties.offset!.description,
      'Set only by alpha (Position in the log); beta (Offset in the partition).',
    );
    assert.equal(receipt.properties.partition!.description, 'Set only by beta (Partition written to).');
    assert.equal(receipt.properties.brokerMessageId!.description, 'Set by no registered adapter kind.');
    assert.match(doc.info.summary ?? '', /alpha, beta/);
    // Without the kinds, the base document's generic text stays.
    const plain = configuredOpenApiDocument(API).components?.schemas?.Receipt;
    assert.deepEqual(plain, openApiDocument().components?.schemas?.Receipt);
  });

  it('makes example topics and sizes readable', () => {
    assert.equal(exampleTopic('a.*.c.**'), 'a.example.c.example');
    assert.equal(exampleTopic('plain.topic'), 'plain.topic');
    assert.equal(formatBytes(1048576), '1 MiB');
    assert.equal(formatBytes(1536), '1536 bytes');
    assert.equal(formatBytes(3 * 1024), '3 KiB');
  });
});
