import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose';
import type { PublishContext } from '../core/index.js';
import { createJwtAuthenticator, type JwtIssuerConfig } from './jwt.policy.js';

const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'pubgate';

function context(): PublishContext {
  return { requestId: 'r', operation: 'publish', topic: 't', headerNames: [] };
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('JWT authentication', () => {
  let key: CryptoKey;
  let publicJwk: JWK;
  let otherKey: CryptoKey;
  let server: Server;
  let fetches = 0;
  let jwksUri = '';
  let serveKeys = true;

  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    key = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    otherKey = (await generateKeyPair('RS256')).privateKey;
    server = createServer((_req, res) => {
      fetches++;
      if (!serveKeys) {
        res.statusCode = 500;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function issuer(patch: Partial<JwtIssuerConfig> = {}): JwtIssuerConfig {
    return {
      issuer: ISSUER,
      audience: [AUDIENCE],
      algorithms: ['RS256'],
      clockToleranceSeconds: 5,
      jwks: { uri: jwksUri },
      jwksCooldownSeconds: 30,
      jwksCacheMaxAgeSeconds: 600,
      jwksTimeoutMs: 2000,
      tenantClaim: 'tenant',
      scopePrefix: 'publish:',
      ...patch,
    };
  }

  function token(
    claims: Record<string, unknown> = {},
    options: { kid?: string; signWith?: CryptoKey; exp?: string | number } = {},
  ) {
    return new SignJWT({ tenant: 'small', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'k1' })
      .setIssuer((claims.iss as string | undefined) ?? ISSUER)
      .setAudience((claims.aud as string | undefined) ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(options.exp ?? '5m')
      .sign(options.signWith ?? key);
  }

  async function reason(auth: ReturnType<typeof createJwtAuthenticator>, jwt: string) {
    const outcome = await auth.authenticate(jwt, context());
    return outcome.ok ? 'ok' : `${outcome.rejection.reason}: ${outcome.rejection.detail}`;
  }

  it('accepts a valid token, taking the tenant and scoped topics from its claims', async () => {
    const auth = createJwtAuthenticator({ issuers: [issuer()], tenants: ['small', 'big'] });
    const ctx = context();
    const jwt = await token({ sub: 'svc-1', scope: 'read publish:small.extra.* publish:bad..pattern' });
    assert.equal(auth.looksLikeJwt(jwt), true);
    assert.deepEqual(await auth.authenticate(jwt, ctx), { ok: true });
    assert.deepEqual(ctx.principal, {
      tenant: 'small',
      method: 'jwt',
      topics: ['small.extra.*'],
      subject: 'svc-1',
    });
  });

  it('refuses alg none, HS256 signed with the RSA public key, expiry, wrong audience or issuer', async () => {
    const auth = createJwtAuthenticator({ issuers: [issuer()], tenants: ['small'] });
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, tenant: 'small', exp: now + 300 };
    const none = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims)}.`;
    assert.match(await reason(auth, none), /^unauthenticated/);

    // The classic key-confusion attack: HMAC keyed with the public key the issuer publishes.
    const { createPublicKey } = await import('node:crypto');
    const pem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .sign(new TextEncoder().encode(String(pem)));
    assert.match(await reason(auth, hs), /^unauthenticated: the token's signing algorithm is not allowed/);

    assert.match(
      await reason(auth, await token({}, { exp: now - 60 })),
      /^unauthenticated: the token has expired/,
    );
    assert.match(await reason(auth, await token({ aud: 'other' })), /^unauthenticated: .*"aud"/);
    assert.match(
      await reason(auth, await token({ iss: 'https://evil.test/' })),
      /not issued by a trusted issuer/,
    );
    assert.match(await reason(auth, await token({ tenant: 'big' })), /does not name a known tenant/);
    // Within the clock tolerance an expired token still passes.
    assert.equal(await reason(auth, await token({}, { exp: now - 2 })), 'ok');
  });

  it('answers an unknown kid with 401 and fetches the JWKS at most once per cooldown', async () => {
    // jose's cooldown runs on the real clock: the 25 tokens all arrive within its 30 s.
    const auth = createJwtAuthenticator({
      issuers: [issuer({ jwksCooldownSeconds: 30 })],
      tenants: ['small'],
    });
    assert.equal(await reason(auth, await token()), 'ok');
    const before = fetches;
    for (let i = 0; i < 25; i++) {
      const forged = await token({}, { kid: `unknown-${i}`, signWith: otherKey });
      assert.match(await reason(auth, forged), /^unauthenticated/);
    }
    assert.ok(fetches - before <= 1, `expected at most one JWKS fetch, saw ${fetches - before}`);
  });

  it('holds back after a failed JWKS fetch instead of fetching once per request (503)', async () => {
    serveKeys = false;
    try {
      let clock = 1_000_000;
      const auth = createJwtAuthenticator(
        { issuers: [issuer({ jwksCooldownSeconds: 30 })], tenants: ['small'] },
        { now: () => clock },
      );
      const jwt = await token();
      const before = fetches;
      for (let i = 0; i < 10; i++) assert.match(await reason(auth, jwt), /^auth-unavailable/);
      assert.equal(fetches - before, 1, 'one fetch, then the cooldown');
      serveKeys = true;
      clock += 31_000;
      assert.equal(await reason(auth, jwt), 'ok');
    } finally {
      serveKeys = true;
    }
  });

  it('maps claim values to tenants when a map is given, and reads topics from a claim', async () => {
    const auth = createJwtAuthenticator({
      issuers: [
        issuer({
          jwks: { keys: { keys: [publicJwk] } },
          tenantClaim: 'org',
          tenantMap: { 'org-7': 'big' },
          topicsClaim: 'topics',
        }),
      ],
      tenants: ['small', 'big'],
    });
    const ctx = context();
    const jwt = await token({ org: 'org-7', topics: ['big.extra', 7, '..'] });
    assert.deepEqual(await auth.authenticate(jwt, ctx), { ok: true });
    assert.equal(ctx.principal?.tenant, 'big');
    assert.deepEqual(ctx.principal?.topics, ['big.extra']);
    // A configured tenant name that the map does not list is refused.
    assert.match(await reason(auth, await token({ org: 'big' })), /does not name a known tenant/);
  });

  it('does not take an API key or garbage for a JWT', () => {
    const auth = createJwtAuthenticator({ issuers: [issuer()], tenants: ['small'] });
    for (const value of ['small-key', 'a.b.c', 'x.y', '...'])
      assert.equal(auth.looksLikeJwt(value), false, value);
  });
});
