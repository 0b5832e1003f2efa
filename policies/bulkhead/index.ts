export { createBulkheadPolicy, type BulkheadPolicyConfig } from './bulkhead.policy.js';
