/**
 * The policy pipeline, composed in one place and in one order for every endpoint:
 *   auth (who: API key or JWT; failed attempts limited per client)
 *   → load-shed (overload: tenant priority decides who is refused first; before the body is read)
 *   → acl (what: reserved names, tenant-choosing headers, grants, namespace)
 *   → quota (how much: requests in stage 1; messages and bytes in stage 2, after the body is read)
 *   → bulkhead (how many at once; last, so refused requests never hold a slot).
 * Also owns the Redis connection of shared quotas, closed with close().
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from '../adapters/core/index.js';
import { createTopicAclPolicy } from '../policies/acl/index.js';
import { createAuthPolicy, type JwtIssuerConfig } from '../policies/auth/index.js';
import { createBulkheadPolicy } from '../policies/bulkhead/index.js';
import { composePolicies, type Policy } from '../policies/core/index.js';
import { createLoadShedPolicy, type LoadShedder, type Priority } from '../policies/shed/index.js';
import {
  createQuotaPolicy,
  type QuotaLimits,
  type QuotaStore,
  type TenantQuota,
} from '../policies/quota/index.js';
import { BROKER_FACTS } from './broker-facts.js';
import type { GatewayConfig, JwtIssuerSettings, TenantConfig } from './config/schema.js';

export interface PolicyPipeline {
  readonly policy: Policy;
  /** Authentication alone (who is calling), for requests that name no topic (message status). */
  readonly authenticate: Policy;
  /**
   * Resolves once the quota store can be used (Redis connected), or after its connectTimeoutMs
   * (the limits then run on the per-process fallback until Redis answers). Memory: at once.
   */
  ready(): Promise<void>;
  /** Closes the quota store's connection, if any. Idempotent. */
  close(): Promise<void>;
}

export function createPolicyPipeline(
  config: Readonly<GatewayConfig>,
  deps: {
    logger: Logger;
    baseDir: string;
    now: () => number;
    /** The process's load shedder; absent (or `overload.enabled: false`): nothing is shed. */
    shedder?: LoadShedder;
    onShed?: (tenant: string, priority: Priority) => void;
  },
): PolicyPipeline {
  // Read key files first: a bad one stops the start before any connection is opened.
  const issuers = config.auth.jwt.map((issuer) => jwtIssuer(issuer, deps.baseDir));
  const redis =
    config.stores.quotas.kind === 'redis' ? createQuotaRedis(config.stores.quotas, deps.logger) : undefined;
  const store: QuotaStore =
    redis === undefined || config.stores.quotas.kind !== 'redis'
      ? { kind: 'memory' }
      : { kind: 'redis', client: redis, keyPrefix: config.stores.quotas.keyPrefix };

  const authenticate = createAuthPolicy(
    {
      tenants: config.tenants,
      jwt: issuers,
      // Shared by the replicas when the quota store is Redis, like the quotas.
      failures: { ...config.auth.failures, store },
    },
    { now: deps.now },
  );
  const shed =
    deps.shedder !== undefined && config.overload.enabled
      ? [
          createLoadShedPolicy(
            { tenants: config.tenants },
            { shedder: deps.shedder, ...(deps.onShed ? { onShed: deps.onShed } : {}) },
          ),
        ]
      : [];
  const policy = composePolicies([
    authenticate,
    ...shed,
    createTopicAclPolicy({ tenants: config.tenants, reservedTopic: BROKER_FACTS.reservedTopic }),
    createQuotaPolicy({
      tenants: Object.fromEntries(
        Object.entries(config.tenants).map(([name, tenant]) => [name, tenantQuota(tenant)]),
      ),
      store,
    }),
    createBulkheadPolicy({
      tenants: Object.fromEntries(
        Object.entries(config.tenants).map(([name, tenant]) => [
          name,
          { concurrency: tenant.quota?.concurrency },
        ]),
      ),
    }),
  ]);

  let closed: Promise<void> | undefined;
  return {
    policy,
    authenticate,
    ready() {
      if (!redis || config.stores.quotas.kind !== 'redis' || redis.status === 'ready')
        return Promise.resolve();
      const timeoutMs = config.stores.quotas.connectTimeoutMs;
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          redis.off('ready', done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        timer.unref();
        redis.once('ready', done);
      });
    },
    close() {
      closed ??= (async () => {
        if (!redis) return;
        try {
          await redis.quit();
        } catch {
          redis.disconnect();
        }
      })();
      return closed;
    },
  };
}

function tenantQuota(tenant: TenantConfig): TenantQuota | undefined {
  const quota = tenant.quota;
  if (!quota) return undefined;
  return {
    ...limits(quota),
    topics: quota.topics.map((entry) => ({ topic: entry.topic, ...limits(entry) })),
  };
}

type LimitsInput = NonNullable<TenantConfig['quota']>['topics'][number];

function limits(input: Omit<LimitsInput, 'topic'>): QuotaLimits {
  return {
    requests: input.rate && { ...input.rate, burst: input.burst },
    messages: input.messages && { ...input.messages, burst: input.messagesBurst },
    bytes: input.bytes && { ...input.bytes, burst: input.bytesBurst },
  };
}

function jwtIssuer(issuer: JwtIssuerSettings, baseDir: string): JwtIssuerConfig {
  let jwks: JwtIssuerConfig['jwks'];
  if (issuer.jwksUri !== undefined) jwks = { uri: issuer.jwksUri };
  else if (issuer.keys !== undefined) jwks = { keys: { keys: issuer.keys as never } };
  else {
    const file = path.resolve(baseDir, issuer.jwksFile!);
    try {
      jwks = { keys: JSON.parse(readFileSync(file, 'utf8')) as never };
    } catch (error) {
      throw new Error(
        `auth.jwt issuer ${issuer.issuer}: cannot read the JWKS file ${file}: ${(error as Error).message}`,
      );
    }
  }
  return {
    issuer: issuer.issuer,
    audience: typeof issuer.audience === 'string' ? [issuer.audience] : issuer.audience,
    algorithms: issuer.algorithms,
    clockToleranceSeconds: issuer.clockToleranceSeconds,
    jwks,
    jwksCooldownSeconds: issuer.jwksCooldownSeconds,
    jwksCacheMaxAgeSeconds: issuer.jwksCacheMaxAgeSeconds,
    jwksTimeoutMs: issuer.jwksTimeoutMs,
    tenantClaim: issuer.tenantClaim,
    ...(issuer.tenants === undefined ? {} : { tenantMap: issuer.tenants }),
    scopePrefix: issuer.scopePrefix,
    ...(issuer.topicsClaim === undefined ? {} : { topicsClaim: issuer.topicsClaim }),
  };
}

/**
 * The quota store's Redis client. Commands fail at once while disconnected (no offline queue, one
 * attempt), so a Redis outage sends quota checks to the in-memory insurance limiters instead of
 * making requests wait. ioredis reconnects in the background; outages are logged once each.
 */
function createQuotaRedis(
  settings: Extract<GatewayConfig['stores']['quotas'], { kind: 'redis' }>,
  logger: Logger,
): Redis {
  const client = new Redis(settings.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: settings.connectTimeoutMs,
    commandTimeout: settings.connectTimeoutMs,
    retryStrategy: (attempt) => Math.min(250 * attempt, 5000),
  });
  let down = false;
  client.on('error', (error: Error) => {
    if (down) return;
    down = true;
    logger.warn(
      { err: error },
      'quota store (Redis) unreachable: quotas fall back to per-process limits until it is back',
    );
  });
  client.on('ready', () => {
    if (down) logger.info({}, 'quota store (Redis) reachable again');
    down = false;
  });
  return client;
}
