import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../adapters/core/index.js';
import type { Rejection, RejectionReason } from '../../policies/core/index.js';
import { GatewayError, toProblem, type GatewayErrorCode } from '../errors/registry.js';
import { requestState } from './request-state.js';

export const PROBLEM_JSON = 'application/problem+json';

export function sendProblem(req: Request, res: Response, error: GatewayError): void {
  const state = requestState(res);
  state.errorCode = error.code;
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
  res
    .status(error.status)
    .type(PROBLEM_JSON)
    .send(
      JSON.stringify(
        toProblem(error, { instance: req.originalUrl.split('?', 1)[0]!, requestId: state.requestId }),
      ),
    );
}

const REJECTION_CODES: Record<RejectionReason, GatewayErrorCode> = {
  unauthenticated: 'GW_ERR_UNAUTHENTICATED',
  'forbidden-topic': 'GW_ERR_FORBIDDEN_TOPIC',
  'reserved-topic': 'GW_ERR_RESERVED_TOPIC',
  'tenant-header': 'GW_ERR_TENANT_HEADER',
  'auth-unavailable': 'GW_ERR_AUTH_UNAVAILABLE',
  'too-many-auth-failures': 'GW_ERR_TOO_MANY_AUTH_FAILURES',
  'quota-exceeded': 'GW_ERR_QUOTA_EXCEEDED',
  'tenant-busy': 'GW_ERR_TENANT_BUSY',
  overloaded: 'GW_ERR_OVERLOADED',
};

export function gatewayErrorFromRejection(rejection: Rejection): GatewayError {
  return new GatewayError(REJECTION_CODES[rejection.reason], rejection.detail, {
    ...(rejection.headers === undefined ? {} : { headers: rejection.headers }),
    ...(rejection.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: rejection.retryAfterSeconds }),
  });
}

/** The last middleware: every error becomes problem+json; unknown errors are logged, never leaked. */
export function createErrorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    let gatewayError: GatewayError;
    if (error instanceof GatewayError) gatewayError = error;
    else if (isHttpError(error) && error.status >= 400 && error.status < 500) {
      // Errors raised by express or raw-body for malformed requests.
      gatewayError =
        error.status === 413
          ? new GatewayError('GW_ERR_BODY_TOO_LARGE', 'the request body is too large')
          : new GatewayError('GW_ERR_BAD_REQUEST', error.message);
    } else {
      logger.error(
        { err: error, requestId: requestState(res).requestId },
        'unexpected error while handling a request',
      );
      gatewayError = new GatewayError('GW_ERR_INTERNAL', 'an internal error occurred; it has been logged');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendProblem(req, res, gatewayError);
  };
}

function isHttpError(error: unknown): error is { status: number; message: string } {
  return (
    typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number'
  );
}
