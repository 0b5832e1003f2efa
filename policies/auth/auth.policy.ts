import { PASS, type Policy, type PublishContext } from '../core/index.js';
import { createApiKeyAuthenticator, type ApiKeyPolicyConfig } from './api-key.policy.js';
import { createAuthFailureLimiter, type AuthFailureLimiterConfig } from './auth-failure-limiter.js';
import { bearerToken } from './bearer.js';
import { createJwtAuthenticator, type JwtAuthenticatorDeps, type JwtIssuerConfig } from './jwt.policy.js';

export interface AuthPolicyConfig extends ApiKeyPolicyConfig {
  /** Trusted JWT issuers; empty or absent: only API keys are accepted. */
  readonly jwt?: readonly JwtIssuerConfig[];
  /** Failed-authentication limit per client address; absent: no limit. */
  readonly failures?: AuthFailureLimiterConfig;
}

/**
 * Who is calling: `Authorization: Bearer <token>`, where the token is a JWT of a trusted issuer
 * (when it has a JWT's shape and issuers are configured) or an API key. The tenant comes from the
 * verified credential only. Failed attempts are counted per client address (context.clientAddress).
 */
export function createAuthPolicy(config: AuthPolicyConfig, deps: JwtAuthenticatorDeps = {}): Policy {
  const apiKeys = createApiKeyAuthenticator(config);
  const jwt =
    config.jwt !== undefined && config.jwt.length > 0
      ? createJwtAuthenticator({ issuers: config.jwt, tenants: Object.keys(config.tenants) }, deps)
      : undefined;
  const failures = config.failures === undefined ? undefined : createAuthFailureLimiter(config.failures);

  async function authenticate(context: PublishContext) {
    const token = bearerToken(context.authorization);
    if ('rejection' in token) return { ok: false as const, rejection: token.rejection };
    if (jwt?.looksLikeJwt(token.value)) return jwt.authenticate(token.value, context);
    return apiKeys.authenticate(token.value, context);
  }

  return {
    name: 'auth',
    async evaluate(context) {
      const client = context.clientAddress;
      if (failures && client !== undefined) {
        const blocked = await failures.check(client);
        if (blocked) return blocked;
      }
      const outcome = await authenticate(context);
      if (!outcome.ok) {
        if (failures && client !== undefined && outcome.rejection.reason === 'unauthenticated') {
          await failures.record(client);
        }
        return outcome;
      }
      return PASS;
    },
  };
}
