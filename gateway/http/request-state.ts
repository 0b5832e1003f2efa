import type { Response } from 'express';

/** What the gateway learns about a request while handling it; read by the access log and metrics. */
export interface RequestState {
  requestId: string;
  startedAt: bigint;
  tenant?: string;
  topic?: string;
  errorCode?: string;
  /** The matched route template, a bounded label for metrics (never the raw path). */
  routeLabel: string;
}

export function requestState(res: Response): RequestState {
  return res.locals as RequestState;
}
