export {
  BURST_POOL_WINDOWS,
  createQuotaPolicy,
  type QuotaDimension,
  type QuotaLimits,
  type QuotaPolicyConfig,
  type QuotaStore,
  type Rate,
  type TenantQuota,
} from './quota.policy.js';
