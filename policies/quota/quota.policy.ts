import { BurstyRateLimiter, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { compileTopicPattern, type TopicMatcher } from '../acl/topic-pattern.js';
import {
  PASS,
  rateLimitHeaders,
  reject,
  retryAfterSeconds,
  storeLimiter,
  type Policy,
  type PolicyOutcome,
  type PublishContext,
  type RateLimitStore,
} from '../core/index.js';

/** A rate: `points` units per `windowSeconds`, plus an optional burst allowance. */
export interface Rate {
  readonly points: number;
  readonly windowSeconds: number;
  /**
   * The most units accepted in one window when the tenant has been quiet (at least `points`).
   * The extra `burst - points` units form a pool that refills every BURST_POOL_WINDOWS windows.
   */
  readonly burst?: number | undefined;
}

export type QuotaDimension = 'requests' | 'messages' | 'bytes';

export type QuotaLimits = Partial<Record<QuotaDimension, Rate | undefined>>;

export interface TenantQuota extends QuotaLimits {
  /** Per-topic limits, checked in addition to the tenant's own; the first matching pattern applies. */
  readonly topics?: readonly ({ readonly topic: string } & QuotaLimits)[] | undefined;
}

/** Where the quota counters live (see policies/core/rate-limit-store.ts). */
export type QuotaStore = RateLimitStore;

export interface QuotaPolicyConfig {
  readonly tenants: Readonly<Record<string, TenantQuota | undefined>>;
  readonly store: QuotaStore;
}

/** The burst pool refills once every this many rate windows. */
export const BURST_POOL_WINDOWS = 10;

interface Limit {
  readonly name: string;
  readonly rate: Rate;
  readonly limiter: RateLimiterAbstract | BurstyRateLimiter;
  /** The window limiter and the burst pool (if any) inside `limiter`, for refunds. */
  readonly parts: readonly RateLimiterAbstract[];
}

type LimitSet = Partial<Record<QuotaDimension, Limit>>;

/**
 * Per-tenant quotas on requests, messages (a batch counts each message) and bytes per window,
 * with rate-limiter-flexible. Requests are checked in stage 1 (before the body is read, so a
 * throttled upload is never read); messages and bytes in stage 2, once they are known. Only
 * admitted units count: a refused request's units are given back, as are units an earlier check
 * of the same stage took when a later one refuses (so a client retrying a too-large batch does not
 * starve itself, and the total admitted never exceeds the quota).
 *
 * Store: memory (per process) or Redis (shared by every replica using the same key prefix; fixed
 * windows, atomic via a Lua script). With Redis each limiter has an in-memory insurance limiter
 * with the same quota, used while Redis is unreachable: quotas then hold per process (a fleet of N
 * replicas admits up to N times the quota) instead of failing open or failing every request.
 */
export function createQuotaPolicy(config: QuotaPolicyConfig): Policy {
  const tenantLimits = new Map<string, LimitSet>();
  const topicLimits = new Map<string, { matcher: TopicMatcher; limits: LimitSet }[]>();
  for (const [tenant, quota] of Object.entries(config.tenants)) {
    if (!quota) continue;
    tenantLimits.set(tenant, limitSet(config.store, `${tenant}`, '', quota));
    topicLimits.set(
      tenant,
      (quota.topics ?? []).map((entry, i) => ({
        matcher: compileTopicPattern(entry.topic),
        limits: limitSet(config.store, `${tenant}:topic${i}`, 'topic-', entry),
      })),
    );
  }

  function limitsFor(context: PublishContext): LimitSet[] {
    const tenant = context.principal?.tenant;
    if (tenant === undefined) return [];
    const own = tenantLimits.get(tenant);
    const topic = topicLimits.get(tenant)?.find((entry) => entry.matcher.match(context.topic) !== undefined);
    return [...(own ? [own] : []), ...(topic ? [topic.limits] : [])];
  }

  async function check(
    context: PublishContext,
    wanted: readonly (readonly [QuotaDimension, number | undefined])[],
  ): Promise<PolicyOutcome> {
    const tenant = context.principal?.tenant;
    if (tenant === undefined) return PASS;
    const taken: { limit: Limit; units: number }[] = [];
    for (const set of limitsFor(context)) {
      for (const [dimension, units] of wanted) {
        const limit = set[dimension];
        if (!limit || units === undefined || units <= 0) continue;
        const outcome = await consume(limit, tenant, units);
        if (!outcome.ok) {
          await Promise.all(taken.map((t) => refund(t.limit.parts.slice(0, 1), tenant, t.units)));
          return outcome;
        }
        taken.push({ limit, units });
      }
    }
    return PASS;
  }

  return {
    name: 'quota',
    evaluate(context) {
      return check(context, [['requests', 1]]);
    },
    evaluateContent(context) {
      return check(context, [
        ['messages', context.messages],
        ['bytes', context.bytes],
      ]);
    },
  };
}

function limitSet(store: QuotaStore, key: string, prefix: string, limits: QuotaLimits): LimitSet {
  const set: LimitSet = {};
  for (const dimension of ['requests', 'messages', 'bytes'] as const) {
    const rate = limits[dimension];
    if (rate)
      set[dimension] = {
        name: `${prefix}${dimension}`,
        rate,
        ...limiterFor(store, `${key}:${dimension}`, rate),
      };
  }
  return set;
}

function limiterFor(store: QuotaStore, name: string, rate: Rate): Pick<Limit, 'limiter' | 'parts'> {
  const main = storeLimiter(store, name, rate.points, rate.windowSeconds);
  const extra = (rate.burst ?? rate.points) - rate.points;
  if (extra <= 0) return { limiter: main, parts: [main] };
  const pool = storeLimiter(store, `${name}:burst`, extra, rate.windowSeconds * BURST_POOL_WINDOWS);
  return { limiter: new BurstyRateLimiter(main, pool), parts: [main, pool] };
}

async function consume(limit: Limit, tenant: string, units: number): Promise<PolicyOutcome> {
  const capacity = limit.rate.burst ?? limit.rate.points;
  if (units > Math.max(capacity, limit.rate.points)) {
    // Never admissible: do not take the window's units, and say why a retry will not help.
    return refusal(
      limit,
      `one request carries ${units} ${limit.name.replace('topic-', '')}, more than tenant ${tenant}'s whole quota of ${capacity} per ${limit.rate.windowSeconds} s`,
      limit.rate.points,
      limit.rate.windowSeconds * 1000,
    );
  }
  try {
    await limit.limiter.consume(tenant, units);
    return PASS;
  } catch (error) {
    // rate-limiter-flexible rejects with a RateLimiterRes (not an Error) when over the limit.
    if (error instanceof RateLimiterRes) {
      // Every part counted the units before refusing: give them back, only admitted units count.
      await refund(limit.parts, tenant, units);
      return refusal(
        limit,
        `tenant ${tenant} is over its ${limit.name} quota of ${limit.rate.points} per ${limit.rate.windowSeconds} s`,
        Math.max(0, error.remainingPoints),
        error.msBeforeNext,
      );
    }
    throw error instanceof Error ? error : new Error(`quota store failed: ${String(error)}`);
  }
}

async function refund(parts: readonly RateLimiterAbstract[], tenant: string, units: number): Promise<void> {
  try {
    await Promise.all(parts.map((part) => part.reward(tenant, units)));
  } catch {
    // Best effort: a failed refund only makes the quota stricter for the rest of this window.
  }
}

function refusal(limit: Limit, detail: string, remaining: number, resetMs: number): PolicyOutcome {
  return reject(
    'quota-exceeded',
    detail,
    rateLimitHeaders({
      policy: limit.name,
      quota: limit.rate.points,
      windowSeconds: limit.rate.windowSeconds,
      remaining,
      resetMs,
    }),
    retryAfterSeconds(resetMs),
  );
}
