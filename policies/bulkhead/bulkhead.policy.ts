import { PASS, onRequestDone, rateLimitHeaders, reject, type Policy } from '../core/index.js';

export interface BulkheadPolicyConfig {
  /** tenant name → most requests of that tenant in progress at once; absent: no limit. */
  readonly tenants: Readonly<Record<string, { readonly concurrency?: number | undefined } | undefined>>;
}

/**
 * Semaphore isolation per tenant: at most `concurrency` requests of one tenant are in progress at
 * once, so one tenant's slow publishes cannot occupy the whole gateway. A request over the limit is
 * refused at once (429, Retry-After 1) rather than queued, keeping other tenants' latency and the
 * gateway's memory bounded. The slot is taken after authentication, ACL and quota, and released
 * through context.cleanup when the answer has been sent (or the client went away).
 */
export function createBulkheadPolicy(config: BulkheadPolicyConfig): Policy {
  const limits = new Map<string, number>();
  for (const [tenant, entry] of Object.entries(config.tenants)) {
    if (entry?.concurrency !== undefined) limits.set(tenant, entry.concurrency);
  }
  const active = new Map<string, number>();
  return {
    name: 'bulkhead',
    evaluate(context) {
      const tenant = context.principal?.tenant;
      const limit = tenant === undefined ? undefined : limits.get(tenant);
      if (tenant === undefined || limit === undefined) return PASS;
      const current = active.get(tenant) ?? 0;
      if (current >= limit) {
        return reject(
          'tenant-busy',
          `tenant ${tenant} already has ${limit} requests in progress; retry when one has finished`,
          rateLimitHeaders({ policy: 'concurrency', quota: limit, remaining: 0, resetMs: 1000 }),
          1,
        );
      }
      active.set(tenant, current + 1);
      let released = false;
      onRequestDone(context, () => {
        if (released) return;
        released = true;
        const left = (active.get(tenant) ?? 1) - 1;
        if (left <= 0) active.delete(tenant);
        else active.set(tenant, left);
      });
      return PASS;
    },
  };
}
