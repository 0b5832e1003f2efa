/**
 * Security bad input from ../shared/TESTING.md over HTTP: authentication (API keys of any length,
 * JWT attacks, failed-attempt limit), tenant spoofing, header injection into the credential, and
 * topic names of a namespaced tenant. Every refusal is a documented problem+json.
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { auth, embeddedConfig, startGateway, type TestGateway } from '../support/gateway.js';
import { assertDocumented } from '../support/openapi.js';

const ISSUER = 'https://issuer.test/';
const MESSAGES = '/v1/topics/{topic}/messages';

async function expectProblem(res: Response, status: number, code: string): Promise<void> {
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.code, code);
  assertDocumented(MESSAGES, 'post', res, body);
  if (status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="pubgate"/);
}

describe('authentication and tenant isolation', () => {
  let gw: TestGateway;
  let jwks: Server;
  let fetches = 0;
  let key: CryptoKey;
  let publicJwk: JWK;

  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    key = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' };
    jwks = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    gw = await startGateway(
      embeddedConfig({
        auth: {
          jwt: [
            {
              issuer: ISSUER,
              audience: 'pubgate',
              algorithms: ['RS256'],
              jwksUri: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
              clockToleranceSeconds: 5,
            },
          ],
          failures: { maxFailures: 1000, windowSeconds: 60 },
        },
        tenants: {
          dev: { keys: ['dev-key'], topics: ['**'] },
          small: { keys: ['small-key'], topics: ['small.*'] },
          big: { keys: ['big-key'], topics: ['big.*'] },
          ns: { keys: ['ns-key'], topics: ['orders.*'], namespace: 'acme' },
        },
      }),
    );
  });
  after(async () => {
    await gw.stop();
    await new Promise<void>((resolve) => jwks.close(() => resolve()));
  });

  function publish(token: string, topic = 'small.t', headers: Record<string, string> = {}) {
    return fetch(`${gw.url}/v1/topics/${topic}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body: '{"n":1}',
    });
  }

  function jwt(
    claims: Record<string, unknown> = {},
    kid = 'k1',
    signWith?: CryptoKey,
    exp: string | number = '5m',
  ) {
    return new SignJWT({ tenant: 'small', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer((claims.iss as string | undefined) ?? ISSUER)
      .setAudience((claims.aud as string | undefined) ?? 'pubgate')
      .setExpirationTime(exp)
      .sign(signWith ?? key);
  }

  it('a valid JWT publishes as its tenant; a scope grants an extra topic', async () => {
    assert.equal((await publish(await jwt())).status, 201);
    await expectProblem(await publish(await jwt(), 'big.t'), 403, 'GW_ERR_FORBIDDEN_TOPIC');
    assert.equal((await publish(await jwt({ scope: 'publish:big.shared' }), 'big.shared')).status, 201);
  });

  it('JWT attacks → 401: alg none, HS256 with the RSA public key, expired, wrong aud or iss, unknown kid', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: 'pubgate', tenant: 'small', exp: now + 300 };
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const pem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const attacks = {
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      'HS256 keyed with the public key': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .sign(new TextEncoder().encode(String(pem))),
      expired: await jwt({}, 'k1', undefined, now - 120),
      'wrong audience': await jwt({ aud: 'someone-else' }),
      'wrong issuer': await jwt({ iss: 'https://evil.test/' }),
      'tenant not configured': await jwt({ tenant: 'nobody' }),
    };
    for (const [label, token] of Object.entries(attacks)) {
      const res = await publish(token);
      assert.equal(res.status, 401, label);
      await expectProblem(res, 401, 'GW_ERR_UNAUTHENTICATED');
    }
    const forger = (await generateKeyPair('RS256')).privateKey;
    const before = fetches;
    for (let i = 0; i < 20; i++) {
      await expectProblem(
        await publish(await jwt({}, `made-up-${i}`, forger)),
        401,
        'GW_ERR_UNAUTHENTICATED',
      );
    }
    assert.ok(
      fetches - before <= 1,
      `unknown kids caused ${fetches - before} JWKS fetches, expected at most 1`,
    );
  });

  it('wrong API keys of any length → 401', async () => {
    for (const token of [
      'x',
      'small-kez',
      'small-key-',
      'a'.repeat(64),
      'b'.repeat(5000),
      'sha256:' + 'c'.repeat(64),
    ]) {
      await expectProblem(await publish(token), 401, 'GW_ERR_UNAUTHENTICATED');
    }
  });

  it('the tenant comes from the credential only: headers, query and body cannot choose it', async () => {
    await expectProblem(
      await publish('small-key', 'small.t', { 'X-Tenant': 'big' }),
      403,
      'GW_ERR_TENANT_HEADER',
    );
    await expectProblem(
      await publish(await jwt(), 'small.t', { 'Tenant-Id': 'big' }),
      403,
      'GW_ERR_TENANT_HEADER',
    );
    await expectProblem(await publish('small-key', 'big.t'), 403, 'GW_ERR_FORBIDDEN_TOPIC');
    const viaQuery = await fetch(`${gw.url}/v1/topics/big.t/messages?tenant=big`, {
      method: 'POST',
      headers: { ...auth('small-key'), 'content-type': 'application/json' },
      body: '{"tenant":"big"}',
    });
    await expectProblem(viaQuery, 403, 'GW_ERR_FORBIDDEN_TOPIC');
  });

  it('a header smuggled into the Authorization value over a raw socket does not pick the tenant', async () => {
    const { port } = new URL(gw.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let data = '';
      socket.on('data', (c) => (data += c.toString('utf8')));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.end(
        'POST /v1/topics/big.t/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
          'Authorization: Bearer small-key\r\n X-Tenant: big\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      );
    });
    // An obsolete line fold is refused by the HTTP parser (400) or at most folds into the
    // Authorization value (401); it never authenticates as big.
    assert.match(answer, /^HTTP\/1\.1 (400|401) /);
  });

  it("a namespaced tenant's topics are prefixed; it cannot leave its namespace", async () => {
    const ok = await publish('ns-key', 'orders.created');
    assert.equal(ok.status, 201);
    assert.equal(((await ok.json()) as { topic: string }).topic, 'acme.orders.created');
    const page = (await (
      await fetch(`${gw.url}/v1/topics/acme.orders.created/messages`, { headers: auth() })
    ).json()) as {
      messages: unknown[];
    };
    assert.equal(page.messages.length, 1);
    await expectProblem(await publish('ns-key', 'acme.orders.created'), 403, 'GW_ERR_FORBIDDEN_TOPIC');
    await expectProblem(await publish('ns-key', '__consumer_offsets'), 403, 'GW_ERR_RESERVED_TOPIC');
    await expectProblem(await publish('ns-key', '..%2Forders.x'), 400, 'GW_ERR_INVALID_TOPIC');
  });
});

describe('failed authentications from one client', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(embeddedConfig({ auth: { failures: { maxFailures: 5, windowSeconds: 60 } } }));
  });
  after(() => gw.stop());

  it('after maxFailures, 429 with agreeing RateLimit headers, even for a valid key', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${gw.url}/v1/topics/a.b/messages`, {
        method: 'POST',
        headers: auth(`guess-${i}`),
        body: '',
      });
      assert.equal(res.status, 401);
      await res.arrayBuffer();
    }
    const res = await fetch(`${gw.url}/v1/topics/a.b/messages`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{}',
    });
    await expectProblem(res.clone(), 429, 'GW_ERR_TOO_MANY_AUTH_FAILURES');
    assert.equal(res.headers.get('ratelimit-policy'), '"auth-failures";q=5;w=60');
    const t = /;t=(\d+)$/.exec(res.headers.get('ratelimit') ?? '')?.[1];
    assert.equal(t, res.headers.get('retry-after'));
  });
});
