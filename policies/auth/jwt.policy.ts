import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { PASS, reject, type PolicyOutcome, type PublishContext } from '../core/index.js';
import { TOPIC_PATTERN_SYNTAX } from '../acl/topic-pattern.js';
import { INVALID_TOKEN } from './bearer.js';

/** Asymmetric algorithms only: a JWKS publishes public keys, and `none` is never accepted. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

export interface JwtIssuerConfig {
  /** Expected `iss`; also how a token finds its issuer entry. */
  readonly issuer: string;
  /** Accepted `aud` values; the token must name at least one. */
  readonly audience: readonly string[];
  /** Algorithm allow-list; a token signed with any other algorithm is refused. */
  readonly algorithms: readonly JwtAlgorithm[];
  readonly clockToleranceSeconds: number;
  /** Where the signing keys come from: a JWKS URL (fetched, cached) or a key set given inline. */
  readonly jwks: { readonly uri: string } | { readonly keys: JSONWebKeySet };
  /** Least time between two JWKS fetches (an unknown `kid` triggers one at most this often). */
  readonly jwksCooldownSeconds: number;
  /** Keys are fetched again when older than this. */
  readonly jwksCacheMaxAgeSeconds: number;
  readonly jwksTimeoutMs: number;
  /** Claim naming the tenant. */
  readonly tenantClaim: string;
  /** Claim value → tenant name. When given, only listed values are accepted. */
  readonly tenantMap?: Readonly<Record<string, string>>;
  /** Scopes (`scope` / `scp`) starting with this prefix grant the topic pattern after it. */
  readonly scopePrefix: string;
  /** A claim holding a list of topic patterns the token grants. */
  readonly topicsClaim?: string;
}

export interface JwtAuthenticatorConfig {
  readonly issuers: readonly JwtIssuerConfig[];
  /** Configured tenant names; a token naming any other tenant is refused. */
  readonly tenants: readonly string[];
}

export interface JwtAuthenticatorDeps {
  readonly now?: () => number;
}

export interface JwtAuthenticator {
  /** Whether `token` has the shape of a JWS compact JWT (three base64url parts, a JSON header). */
  looksLikeJwt(token: string): boolean;
  authenticate(token: string, context: PublishContext): Promise<PolicyOutcome>;
}

const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Verifies bearer JWTs against each issuer's keys with jose. The issuer entry is chosen by the
 * token's (unverified) `iss`; the token is then verified against that entry only: signature with an
 * allowed algorithm, `iss`, `aud`, `exp` (required) and `nbf` with the clock tolerance.
 *
 * Keys: a JWKS URL goes through jose's createRemoteJWKSet, which caches the set, coalesces
 * concurrent fetches, and on an unknown `kid` fetches again only if the last fetch is older than
 * the cooldown — so a stream of tokens with made-up `kid`s causes at most one fetch per cooldown.
 * jose retries a failed fetch on the next request, so a wrapper here also holds back for the
 * cooldown after a failed fetch: an unreachable JWKS endpoint is never called once per request.
 */
export function createJwtAuthenticator(
  config: JwtAuthenticatorConfig,
  deps: JwtAuthenticatorDeps = {},
): JwtAuthenticator {
  const now = deps.now ?? Date.now;
  const tenants = new Set(config.tenants);
  const issuers = new Map(
    config.issuers.map((issuer) => [issuer.issuer, { config: issuer, keys: keySetFor(issuer, now) }]),
  );

  return {
    looksLikeJwt(token) {
      if (!COMPACT.test(token)) return false;
      try {
        decodeProtectedHeader(token);
        return true;
      } catch {
        return false;
      }
    },

    async authenticate(token, context) {
      let unverified: JWTPayload;
      try {
        unverified = decodeJwt(token);
      } catch {
        return invalid('the token is not a well-formed JWT');
      }
      const entry = typeof unverified.iss === 'string' ? issuers.get(unverified.iss) : undefined;
      if (!entry) return invalid('the token was not issued by a trusted issuer');
      const { config: issuer, keys } = entry;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: issuer.issuer,
          audience: [...issuer.audience],
          algorithms: [...issuer.algorithms],
          clockTolerance: issuer.clockToleranceSeconds,
          requiredClaims: ['exp'],
          currentDate: new Date(now()),
        }));
      } catch (error) {
        if (error instanceof JwksUnavailableError) {
          return reject('auth-unavailable', error.message, undefined, issuer.jwksCooldownSeconds);
        }
        return invalid(describeJoseError(error));
      }
      const claimed = payload[issuer.tenantClaim];
      const tenant =
        typeof claimed !== 'string'
          ? undefined
          : issuer.tenantMap
            ? Object.hasOwn(issuer.tenantMap, claimed)
              ? issuer.tenantMap[claimed]
              : undefined
            : claimed;
      if (tenant === undefined || !tenants.has(tenant)) {
        return invalid(`the token's "${issuer.tenantClaim}" claim does not name a known tenant`);
      }
      const topics = grantedTopics(payload, issuer);
      context.principal = {
        tenant,
        method: 'jwt',
        ...(topics.length === 0 ? {} : { topics }),
        ...(typeof payload.sub === 'string' ? { subject: payload.sub } : {}),
      };
      return PASS;
    },
  };
}

/** Thrown by the key-set wrapper when the JWKS could not be fetched (or is held back after a failure). */
export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError';
}

function keySetFor(issuer: JwtIssuerConfig, now: () => number): JWTVerifyGetKey {
  if ('keys' in issuer.jwks) return createLocalJWKSet(issuer.jwks.keys);
  const remote = createRemoteJWKSet(new URL(issuer.jwks.uri), {
    cooldownDuration: issuer.jwksCooldownSeconds * 1000,
    cacheMaxAge: issuer.jwksCacheMaxAgeSeconds * 1000,
    timeoutDuration: issuer.jwksTimeoutMs,
  });
  const cooldownMs = issuer.jwksCooldownSeconds * 1000;
  let failedAt = -Infinity;
  return async (header, token) => {
    if (now() - failedAt < cooldownMs) {
      throw new JwksUnavailableError(
        'the signing keys of the token issuer are unavailable right now; retry later',
      );
    }
    try {
      return await remote(header, token);
    } catch (error) {
      // No matching key is an answer about the token; anything else is the fetch failing.
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
        throw error;
      }
      failedAt = now();
      throw new JwksUnavailableError(
        'the signing keys of the token issuer could not be fetched; retry later',
        { cause: error },
      );
    }
  };
}

function grantedTopics(payload: JWTPayload, issuer: JwtIssuerConfig): string[] {
  const granted: string[] = [];
  const scopes = [payload.scope, payload.scp].flatMap((value) =>
    typeof value === 'string' ? value.split(' ') : Array.isArray(value) ? value : [],
  );
  for (const scope of scopes) {
    if (typeof scope === 'string' && scope.startsWith(issuer.scopePrefix)) {
      granted.push(scope.slice(issuer.scopePrefix.length));
    }
  }
  if (issuer.topicsClaim !== undefined) {
    const claim = payload[issuer.topicsClaim];
    if (Array.isArray(claim)) granted.push(...claim.filter((t): t is string => typeof t === 'string'));
  }
  // A malformed pattern grants nothing (it is never compiled into a regular expression).
  return granted.filter((pattern) => pattern.length <= 249 && TOPIC_PATTERN_SYNTAX.test(pattern));
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `the token's "${error.claim}" claim is not acceptable (${error.reason})`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's signing algorithm is not allowed";
  if (error instanceof errors.JWKSNoMatchingKey) return "no trusted key matches the token's key id";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is not valid";
  return 'the token is not valid';
}

function invalid(detail: string): PolicyOutcome {
  return reject('unauthenticated', detail, INVALID_TOKEN);
}
