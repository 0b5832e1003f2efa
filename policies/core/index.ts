/**
 * The policy seam: framework-free functions of a PublishContext. The gateway builds the context
 * from an HTTP request and runs the composed pipeline; no express type crosses this line.
 *
 * A pipeline runs in two stages, because some facts are known only once the body has been read:
 *   1. `evaluate` — before the body is read: who is calling, what topic, how many requests.
 *      Refusing here costs nothing (a throttled upload is never read).
 *   2. `evaluateContent` — after the body is read and validated, with `messages` and `bytes` set:
 *      message and byte quotas. Optional; most policies only have stage 1.
 * Both stages run the policies in the same, composed order.
 */

/** Who is calling, once a credential has been verified. */
export interface Principal {
  readonly tenant: string;
  /** How the credential was presented, for logs and metrics. */
  readonly method: 'api-key' | 'jwt';
  /** Extra topic patterns granted by the credential itself (JWT scopes or claims). */
  readonly topics?: readonly string[];
  /** The JWT subject, for logs. */
  readonly subject?: string;
}

export interface PublishContext {
  readonly requestId: string;
  readonly operation: 'publish' | 'read';
  /**
   * The topic. Policies may rewrite it once (the ACL policy prefixes a tenant's namespace); the
   * gateway routes and publishes the topic as it stands after stage 1.
   */
  topic: string;
  /** The raw Authorization header, if any. */
  readonly authorization?: string;
  /** Header names present on the request (lower case), for policies that refuse some of them. */
  readonly headerNames: readonly string[];
  /** The client's address (the socket peer, or X-Forwarded-For when the proxy is trusted). */
  readonly clientAddress?: string;
  /** Set by the authentication policy; later policies may rely on it. */
  principal?: Principal;
  /** Stage 2 only: how many messages the request carries (1 for a single publish). */
  messages?: number;
  /** Stage 2 only: the request body's length in bytes. */
  bytes?: number;
  /**
   * Work to do when the request is over, whatever its outcome (e.g. releasing a bulkhead slot).
   * The gateway runs each once, when the response has been sent or the connection closed.
   */
  readonly cleanup?: (() => void)[];
}

/** Why a policy said no. The gateway maps each reason onto one coded error. */
export type RejectionReason =
  | 'unauthenticated'
  | 'auth-unavailable'
  | 'too-many-auth-failures'
  | 'forbidden-topic'
  | 'reserved-topic'
  | 'tenant-header'
  | 'quota-exceeded'
  | 'tenant-busy'
  | 'overloaded';

export interface Rejection {
  readonly reason: RejectionReason;
  readonly detail: string;
  /** Response headers the answer must carry (e.g. WWW-Authenticate, RateLimit). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Seconds before the same request may succeed (Retry-After), for 429 and 503 answers. */
  readonly retryAfterSeconds?: number;
}

export type PolicyOutcome = { readonly ok: true } | { readonly ok: false; readonly rejection: Rejection };

export interface Policy {
  readonly name: string;
  /** Stage 1: before the body is read. */
  evaluate(context: PublishContext): PolicyOutcome | Promise<PolicyOutcome>;
  /** Stage 2: after the body is read; `context.messages` and `context.bytes` are set. */
  evaluateContent?(context: PublishContext): PolicyOutcome | Promise<PolicyOutcome>;
}

export const PASS: PolicyOutcome = Object.freeze({ ok: true });

export function reject(
  reason: RejectionReason,
  detail: string,
  headers?: Record<string, string>,
  retryAfterSeconds?: number,
): PolicyOutcome {
  return {
    ok: false,
    rejection: {
      reason,
      detail,
      ...(headers === undefined ? {} : { headers }),
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    },
  };
}

/** Registers work to run when the request is over (see PublishContext.cleanup). */
export function onRequestDone(context: PublishContext, fn: () => void): void {
  if (context.cleanup) context.cleanup.push(fn);
  else fn(); // nobody would run it later: release at once rather than leak
}

/** Runs every registered cleanup once, never throwing. */
export function runCleanup(context: PublishContext): void {
  const list = context.cleanup;
  if (!list) return;
  for (const fn of list.splice(0)) {
    try {
      fn();
    } catch {
      // A cleanup must not break the answer; each policy's own cleanup is written not to throw.
    }
  }
}

/** Runs policies in the given order, per stage; the first rejection wins and later ones do not run. */
export function composePolicies(policies: readonly Policy[]): Policy {
  const content = policies.filter((p) => p.evaluateContent !== undefined);
  return {
    name: policies.map((p) => p.name).join('>'),
    async evaluate(context) {
      for (const policy of policies) {
        const outcome = await policy.evaluate(context);
        if (!outcome.ok) return outcome;
      }
      return PASS;
    },
    async evaluateContent(context) {
      for (const policy of content) {
        const outcome = await policy.evaluateContent!(context);
        if (!outcome.ok) return outcome;
      }
      return PASS;
    },
  };
}

export { rateLimitHeaders, retryAfterSeconds, type RateLimitState } from './rate-limit-headers.js';
export { storeLimiter, type RateLimitStore } from './rate-limit-store.js';
