import { createHash, timingSafeEqual } from 'node:crypto';
import { PASS, reject, type Policy, type PolicyOutcome, type PublishContext } from '../core/index.js';
import { INVALID_TOKEN, bearerToken } from './bearer.js';

export interface ApiKeyPolicyConfig {
  /** tenant name → its keys, each `sha256:<hex>` or the plaintext key (hashed here, once). */
  readonly tenants: Readonly<Record<string, { readonly keys: readonly string[] }>>;
}

export interface ApiKeyAuthenticator {
  /** Verifies `token` as an API key; on success sets context.principal. */
  authenticate(token: string, context: PublishContext): PolicyOutcome;
}

/**
 * API keys are kept only as SHA-256 digests. The presented key is hashed once and looked up by its
 * digest in a map; the one candidate found (or a dummy, when none is) is then compared with
 * timingSafeEqual. The work is the same whatever the key's length or whether it exists, and the
 * map lookup is keyed by a digest the caller cannot steer, so timing reveals nothing useful.
 */
export function createApiKeyAuthenticator(config: ApiKeyPolicyConfig): ApiKeyAuthenticator {
  const byDigest = new Map<string, { digest: Buffer; tenant: string }>();
  for (const [tenant, { keys }] of Object.entries(config.tenants)) {
    for (const key of keys) {
      const digest = digestOf(key);
      byDigest.set(digest.toString('hex'), { digest, tenant });
    }
  }
  const dummy = Buffer.alloc(32);
  return {
    authenticate(token, context) {
      const presented = sha256(token);
      const candidate = byDigest.get(presented.toString('hex'));
      const equal = timingSafeEqual(candidate?.digest ?? dummy, presented);
      if (!equal || candidate === undefined) {
        return reject('unauthenticated', 'the API key is not valid', INVALID_TOKEN);
      }
      context.principal = { tenant: candidate.tenant, method: 'api-key' };
      return PASS;
    },
  };
}

/** Authenticates `Authorization: Bearer <api key>` (API keys only; see auth.policy.ts for both). */
export function createApiKeyPolicy(config: ApiKeyPolicyConfig): Policy {
  const authenticator = createApiKeyAuthenticator(config);
  return {
    name: 'auth',
    evaluate(context) {
      const token = bearerToken(context.authorization);
      if ('rejection' in token) return { ok: false, rejection: token.rejection };
      return authenticator.authenticate(token.value, context);
    },
  };
}

function digestOf(configured: string): Buffer {
  return configured.startsWith('sha256:') ? Buffer.from(configured.slice(7), 'hex') : sha256(configured);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
