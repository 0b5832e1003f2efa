import type { Response } from 'express';
import type { PublishContext } from '../../policies/core/index.js';

/** What the gateway learns about a request while handling it; read by the access log and metrics. */
export interface RequestState {
  requestId: string;
  startedAt: bigint;
  tenant?: string;
  topic?: string;
  errorCode?: string;
  /** The matched route template, a bounded label for metrics (never the raw path). */
  routeLabel: string;
  /** Request body bytes read, for the per-tenant byte metrics. */
  bytes?: number;
  /** The policy context of stage 1, kept for stage 2 (after the body is read). */
  policyContext?: PublishContext;
}

export function requestState(res: Response): RequestState {
  return res.locals as RequestState;
}
