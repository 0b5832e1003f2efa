export { createApiKeyPolicy, type ApiKeyPolicyConfig } from './api-key.policy.js';
