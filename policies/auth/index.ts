export { createAuthPolicy, type AuthPolicyConfig } from './auth.policy.js';
export {
  createApiKeyAuthenticator,
  createApiKeyPolicy,
  type ApiKeyAuthenticator,
  type ApiKeyPolicyConfig,
} from './api-key.policy.js';
export {
  createAuthFailureLimiter,
  type AuthFailureLimiter,
  type AuthFailureLimiterConfig,
} from './auth-failure-limiter.js';
export {
  JWT_ALGORITHMS,
  JwksUnavailableError,
  createJwtAuthenticator,
  type JwtAlgorithm,
  type JwtAuthenticator,
  type JwtAuthenticatorConfig,
  type JwtIssuerConfig,
} from './jwt.policy.js';
export { CHALLENGE, INVALID_TOKEN, MAX_TOKEN_LENGTH, bearerToken } from './bearer.js';
