/**
 * GET /openapi.json describes the running configuration: its routes with their limits, the
 * listener, the package version and the config generation; it follows a live reload; it never
 * carries a credential, a key hash, a broker address, an admin key or a tenant name.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import express from 'express';
import type { OpenAPIV3_1 } from 'openapi-types';
import { DEFAULT_LIMITS, type GatewayConfig } from '../../gateway/config/schema.js';
import { createSystemRoutes } from '../../gateway/http/system-routes.js';
import type { GatewayMetrics } from '../../gateway/observability/metrics.js';
import type { Targets } from '../../gateway/targets.js';
import { configuredOpenApiDocument } from '../../openapi/configured-document.js';
import { embeddedConfig, gatewaySet, writeGatewayConfig, type TestGateway } from '../support/gateway.js';
import { assertValidOpenApi31 } from '../support/openapi.js';

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface ServedDocument {
  info: { version: string };
  servers: { url: string }[];
  'x-pubgate-generation': number;
  paths: Record<
    string,
    {
      parameters: { name: string; description: string; examples: Record<string, { value: string }> }[];
      post: { description: string; 'x-pubgate-routes': Record<string, unknown>[] };
    }
  >;
}

async function served(gw: TestGateway): Promise<{ doc: ServedDocument; text: string }> {
  const res = await fetch(`${gw.url}/openapi.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const text = await res.text();
  return { doc: JSON.parse(text) as ServedDocument, text };
}

const routesOf = (doc: ServedDocument, path = '/v1/topics/{topic}/messages') =>
  doc.paths[path]!.post['x-pubgate-routes'];

const ORDERS = {
  topic: 'orders.*',
  target: 'local',
  contentTypes: ['application/json'],
  maxBodyBytes: 4096,
  allowAsync: true,
};
const LOGS = {
  topic: 'logs.**',
  target: 'local',
  contentTypes: ['text/plain', 'application/octet-stream'],
  maxBodyBytes: 262144,
  delivery: 'fire-and-forget',
  degrade: 'spool',
};

describe('GET /openapi.json describes the running configuration', () => {
  const { start, stopAll } = gatewaySet();
  after(stopAll);

  it('lists both routes with their limits, the listener, the version and the generation', async () => {
    const gw = await start(embeddedConfig({ routes: [ORDERS, LOGS], reload: { watch: false } }));
    const { doc } = await served(gw);
    assertValidOpenApi31(doc);
    assert.equal(doc.info.version, PACKAGE_VERSION);
    assert.equal(doc['x-pubgate-generation'], 1);
    assert.deepEqual(
      doc.servers.map((s) => s.url),
      [gw.url],
    );
    const expected = [
      {
        topic: 'orders.*',
        contentTypes: ['application/json'],
        maxBodyBytes: 4096,
        delivery: 'sync',
        allowAsync: true,
        degrade: 'reject',
        headers: [],
        strategy: 'single',
        targets: ['local'],
      },
      {
        topic: 'logs.**',
        contentTypes: ['text/plain', 'application/octet-stream'],
        maxBodyBytes: 262144,
        delivery: 'fire-and-forget',
        allowAsync: false,
        degrade: 'spool',
        headers: [],
        strategy: 'single',
        targets: ['local'],
      },
    ];
    assert.deepEqual(routesOf(doc), expected);
    assert.deepEqual(routesOf(doc, '/v1/topics/{topic}/messages/batch'), expected);
    const description = doc.paths['/v1/topics/{topic}/messages']!.post.description;
    assert.match(description, /\| `orders\.\*` \| `application\/json` \| 4 KiB \|/);
    assert.match(description, /\| `logs\.\*\*` \| `text\/plain`, `application\/octet-stream` \| 256 KiB \|/);
    const topic = doc.paths['/v1/topics/{topic}/messages']!.parameters.find((p) => p.name === 'topic')!;
    assert.match(topic.description, /`orders\.\*`, `logs\.\*\*`/);
    assert.deepEqual(
      Object.values(topic.examples).map((e) => e.value),
      ['orders.example', 'logs.example'],
    );

    // The document says what the gateway does: over 4 KiB on orders.* is 413, text/plain is 415.
    const post = (body: string, type: string) =>
      fetch(`${gw.url}/v1/topics/orders.x/messages`, {
        method: 'POST',
        headers: { authorization: 'Bearer dev-key', 'content-type': type },
        body,
      });
    assert.equal((await post(JSON.stringify({ pad: 'x'.repeat(5000) }), 'application/json')).status, 413);
    assert.equal((await post('hello', 'text/plain')).status, 415);
    assert.equal((await post('{}', 'application/json')).status, 201);
  });

  it('drops a removed route and lists an added one after a live reload, without a restart', async () => {
    const config = embeddedConfig({ routes: [ORDERS, LOGS], reload: { watch: false } });
    const gw = await start(config);
    const first = await served(gw);
    assert.match(first.text, /logs\.\*\*/);

    const METRICS = { topic: 'metrics.*', target: 'local', contentTypes: ['text/plain'], maxBodyBytes: 512 };
    writeGatewayConfig(gw.dir, { ...config, routes: [ORDERS, METRICS] });
    const result = await gw.gateway.reload();
    assert.equal(result.outcome, 'applied');

    const { doc, text } = await served(gw);
    assertValidOpenApi31(doc);
    assert.equal(doc['x-pubgate-generation'], 2);
    assert.doesNotMatch(text, /logs\./, 'the removed route is still in the document');
    for (const path of ['/v1/topics/{topic}/messages', '/v1/topics/{topic}/messages/batch']) {
      assert.deepEqual(
        routesOf(doc, path).map((r) => [r.topic, r.maxBodyBytes, r.contentTypes]),
        [
          ['orders.*', 4096, ['application/json']],
          ['metrics.*', 512, ['text/plain']],
        ],
      );
    }
    const topic = doc.paths['/v1/topics/{topic}/messages']!.parameters.find((p) => p.name === 'topic')!;
    assert.deepEqual(Object.keys(topic.examples), ['orders.*', 'metrics.*']);
  });

  it('carries no API key, key hash, JWT secret, admin key, broker URL or tenant name', async () => {
    const secrets = {
      apiKey: 'pk-live-4f9a2c7e1b0d',
      hashedApiKey: 'pk-stored-hashed-77d1e0',
      adminKey: 'admin-key-c3a9f1b2',
      // A shared HS256 secret as an inline symmetric JWK (HS* tokens are never accepted, but
      // the key is still in the config).
      jwtSecret: 'hs256-shared-secret-8e2b5d',
      jwksPassword: 'jwks-pass-51c0f3',
      brokerPassword: 'broker-pass-9d4e7a',
    };
    const brokerUrl = `amqp://pubgate-user:${secrets.brokerPassword}@127.0.0.1:1/%2F`;
    const tenants = ['acme-ledger-internal', 'zeta-payments-team'];
    const config = embeddedConfig({
      reload: { watch: false },
      brokers: {
        local: { kind: 'embedded', dir: './data' },
        vendor: { kind: 'rabbitmq', url: brokerUrl, exchange: 'pubgate' },
      },
      routes: [ORDERS, { topic: 'vendor.*', target: 'vendor' }, { topic: '**', target: 'local' }],
      tenants: {
        [tenants[0]!]: {
          keys: [secrets.apiKey, `sha256:${sha256(secrets.hashedApiKey)}`],
          topics: ['**'],
          namespace: 'ns-hidden-ledger',
        },
        [tenants[1]!]: { keys: [], topics: ['orders.*'] },
      },
      admin: { keys: [secrets.adminKey] },
      auth: {
        jwt: [
          {
            issuer: 'https://issuer-secret-check.test',
            audience: 'pubgate-audience-check',
            algorithms: ['RS256'],
            keys: [{ kty: 'oct', alg: 'HS256', k: secrets.jwtSecret }],
            tenants: { 'claim-value-ledger': tenants[0] },
          },
          {
            issuer: 'https://other-issuer-check.test',
            audience: 'pubgate-audience-check',
            algorithms: ['ES256'],
            jwksUri: `https://jwks-user:${secrets.jwksPassword}@jwks-host-check.test/jwks.json`,
          },
        ],
      },
    });
    const gw = await start(config);
    const { doc, text } = await served(gw);
    assertValidOpenApi31(doc);
    assert.equal(routesOf(doc).length, 3, 'the document describes this configuration');

    const forbidden = [
      ...Object.values(secrets),
      ...[secrets.apiKey, secrets.hashedApiKey, secrets.adminKey].map(sha256),
      brokerUrl,
      '127.0.0.1:1/',
      'amqp://',
      'pubgate-user',
      ...tenants,
      'ns-hidden-ledger',
      'claim-value-ledger',
      'issuer-secret-check',
      'other-issuer-check',
      'jwks-host-check',
      'pubgate-audience-check',
    ];
    for (const value of forbidden) {
      assert.ok(!text.includes(value), `the served document contains ${value}`);
    }
  });
});

describe('the served document is built once per config generation', () => {
  it('builds it on the first GET /openapi.json and serves the same JSON after', async () => {
    let builds = 0;
    const app = express();
    app.use(
      createSystemRoutes({
        config: { routes: [] } as unknown as GatewayConfig,
        targets: {} as Targets,
        metrics: {} as GatewayMetrics,
        isShuttingDown: () => false,
        retryAfterSeconds: 1,
        openapi: (): OpenAPIV3_1.Document => {
          builds += 1;
          return configuredOpenApiDocument({
            version: '0.0.0',
            generation: builds,
            limits: DEFAULT_LIMITS,
            routes: [],
          });
        },
      }),
    );
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      assert.equal(builds, 0, 'not built before it is asked for');
      const bodies = [];
      for (let i = 0; i < 3; i++)
        bodies.push(await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).text());
      assert.equal(builds, 1);
      assert.equal(new Set(bodies).size, 1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
