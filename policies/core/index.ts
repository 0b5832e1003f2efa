/**
 * The policy seam: framework-free functions of a PublishContext. The gateway builds the context
 * from an HTTP request and runs the composed pipeline; no express type crosses this line.
 */

/** Who is calling, once a credential has been verified. */
export interface Principal {
  readonly tenant: string;
  /** How the credential was presented, for logs and metrics. */
  readonly method: 'api-key' | 'jwt';
}

export interface PublishContext {
  readonly requestId: string;
  readonly operation: 'publish' | 'read';
  readonly topic: string;
  /** The raw Authorization header, if any. */
  readonly authorization?: string;
  /** Header names present on the request (lower case), for policies that refuse some of them. */
  readonly headerNames: readonly string[];
  /** Set by the authentication policy; later policies may rely on it. */
  principal?: Principal;
}

/** Why a policy said no. The gateway maps each reason onto one coded error. */
export type RejectionReason = 'unauthenticated' | 'forbidden-topic' | 'reserved-topic' | 'tenant-header';

export interface Rejection {
  readonly reason: RejectionReason;
  readonly detail: string;
  /** Response headers the answer must carry (e.g. WWW-Authenticate). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type PolicyOutcome = { readonly ok: true } | { readonly ok: false; readonly rejection: Rejection };

export interface Policy {
  readonly name: string;
  evaluate(context: PublishContext): PolicyOutcome | Promise<PolicyOutcome>;
}

export const PASS: PolicyOutcome = Object.freeze({ ok: true });

export function reject(
  reason: RejectionReason,
  detail: string,
  headers?: Record<string, string>,
): PolicyOutcome {
  return { ok: false, rejection: { reason, detail, ...(headers === undefined ? {} : { headers }) } };
}

/** Runs policies in the given order; the first rejection wins and later policies do not run. */
export function composePolicies(policies: readonly Policy[]): Policy {
  return {
    name: policies.map((p) => p.name).join('>'),
    async evaluate(context) {
      for (const policy of policies) {
        const outcome = await policy.evaluate(context);
        if (!outcome.ok) return outcome;
      }
      return PASS;
    },
  };
}
