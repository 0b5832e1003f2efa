import { PASS, onRequestDone, reject, type Policy } from '../core/index.js';
import type { LoadShedder, Priority } from './load-shedder.js';

export interface LoadShedPolicyConfig {
  /** tenant name → its priority; a tenant not listed counts as `normal`. */
  readonly tenants: Readonly<Record<string, { readonly priority: Priority }>>;
}

export interface LoadShedPolicyDeps {
  /** Shared by every pipeline of the process: the in-flight count is the process's. */
  readonly shedder: LoadShedder;
  /** Called for every shed request (metrics). */
  readonly onShed?: (tenant: string, priority: Priority) => void;
}

/**
 * Overload shedding by tenant priority. Runs right after authentication: the tenant (and so its
 * priority) must be known, and refusing before the body is read keeps a shed request cheap. A
 * request over its priority's share of capacity is refused at once (503 GW_ERR_OVERLOADED with
 * Retry-After); an admitted one holds a slot until the answer has been sent (context.cleanup).
 */
export function createLoadShedPolicy(config: LoadShedPolicyConfig, deps: LoadShedPolicyDeps): Policy {
  return {
    name: 'load-shed',
    evaluate(context) {
      const tenant = context.principal?.tenant;
      if (tenant === undefined) return PASS;
      const priority = config.tenants[tenant]?.priority ?? 'normal';
      const decision = deps.shedder.admit(priority);
      if (!decision.ok) {
        deps.onShed?.(tenant, priority);
        return reject(
          'overloaded',
          `the gateway is overloaded (load ${decision.load.toFixed(2)}); ${priority}-priority requests are shed until it recovers`,
          undefined,
          decision.retryAfterSeconds,
        );
      }
      onRequestDone(context, decision.release);
      return PASS;
    },
  };
}
