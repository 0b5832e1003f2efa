import type { NextFunction, Request, Response } from 'express';
import { v7 as uuidv7 } from 'uuid';
import type { Logger } from '../../adapters/core/index.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { requestState } from './request-state.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Assigns the request id (the caller's X-Request-Id when well-formed, else a new UUIDv7), echoes
 * it, and on finish writes one access-log line and the HTTP metrics.
 */
export function createRequestObserver(deps: { logger: Logger; metrics: GatewayMetrics }) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.headers['x-request-id'];
    const state = requestState(res);
    state.requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : uuidv7();
    state.startedAt = process.hrtime.bigint();
    state.routeLabel = 'unmatched';
    res.setHeader('X-Request-Id', state.requestId);
    deps.metrics.inFlight.inc();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      deps.metrics.inFlight.dec();
      const seconds = Number(process.hrtime.bigint() - state.startedAt) / 1e9;
      const route = routeLabel(req);
      deps.metrics.httpRequests.inc({ route, method: req.method, status: String(res.statusCode) });
      deps.metrics.httpDuration.observe({ route, method: req.method }, seconds);
      if (res.statusCode >= 400 && state.errorCode !== undefined) {
        deps.metrics.rejected.inc({ tenant: state.tenant ?? 'anonymous', code: state.errorCode });
      }
      if (state.policyContext !== undefined) {
        // A topic request (the policies ran): count it for its tenant.
        const labels = {
          tenant: state.tenant ?? 'anonymous',
          outcome: res.statusCode < 300 ? 'accepted' : res.statusCode === 429 ? 'throttled' : 'rejected',
        };
        deps.metrics.tenantRequests.inc(labels);
        const declared = Number(req.headers['content-length']);
        const bytes = state.bytes ?? (Number.isSafeInteger(declared) && declared > 0 ? declared : 0);
        if (bytes > 0) deps.metrics.tenantBytes.inc(labels, bytes);
      }
      const fields = {
        requestId: state.requestId,
        method: req.method,
        route,
        path: req.originalUrl.split('?', 1)[0],
        status: res.statusCode,
        durationMs: Math.round(seconds * 1e6) / 1e3,
        ...(state.tenant === undefined ? {} : { tenant: state.tenant }),
        ...(state.topic === undefined ? {} : { topic: state.topic }),
        ...(state.errorCode === undefined ? {} : { code: state.errorCode }),
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      if (res.statusCode >= 500) deps.logger.warn(fields, 'request failed');
      else if (route === '/livez' || route === '/readyz' || route === '/metrics')
        deps.logger.debug(fields, 'request');
      else deps.logger.info(fields, 'request');
    };
    res.on('finish', finish);
    res.on('close', finish);
    next();
  };
}

/** A bounded label: the route template express matched, never the raw path (which holds topics). */
function routeLabel(req: Request): string {
  const route = (req as Request & { route?: { path?: unknown } }).route;
  return typeof route?.path === 'string' ? route.path : 'unmatched';
}
