/**
 * Errors in the management API's own shape, `{"error": "<kind>", "reason": "<why>"}`, never
 * problem+json. 401 carries a Basic challenge, as RabbitMQ's does.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../../adapters/core/index.js';
import { GatewayError } from '../../errors/registry.js';
import { requestState } from '../../http/request-state.js';
import { withItems, type RawAnswer } from '../../http/answer-once.js';

export const JSON_TYPE = 'application/json';

/** An error only this API has: RabbitMQ's 404 for an unknown vhost or exchange. */
export class ManagementError extends Error {
  override readonly name = 'ManagementError';
  constructor(
    readonly status: number,
    readonly kind: string,
    reason: string,
  ) {
    super(reason);
  }
}

export function objectNotFound(what: string): ManagementError {
  return new ManagementError(404, 'Object Not Found', what);
}

const KINDS: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'not_authorized',
  403: 'not_authorized',
  404: 'Object Not Found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'too_many_requests',
  500: 'internal_server_error',
  503: 'service_unavailable',
};

export function errorAnswer(error: unknown): RawAnswer {
  if (error instanceof ManagementError) {
    return {
      status: error.status,
      headers: { 'content-type': JSON_TYPE },
      body: JSON.stringify({ error: error.kind, reason: error.message }),
    };
  }
  const gateway =
    error instanceof GatewayError
      ? error
      : new GatewayError('GW_ERR_INTERNAL', 'an internal error occurred; it has been logged');
  const headers: Record<string, string> = { ...gateway.headers, 'content-type': JSON_TYPE };
  if (gateway.status === 401) headers['WWW-Authenticate'] = 'Basic realm="pubgate"';
  if (gateway.retryAfterSeconds !== undefined) headers['Retry-After'] = String(gateway.retryAfterSeconds);
  const kind = KINDS[gateway.status] ?? (gateway.status >= 500 ? 'internal_server_error' : 'bad_request');
  return {
    status: gateway.status,
    headers,
    body: JSON.stringify({ error: kind, reason: withItems(gateway) }),
  };
}

/** The router's error handler; errors that are not the caller's are logged, never shown. */
export function createManagementErrorHandler(logger: Logger | undefined) {
  return (error: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    let known = error;
    if (!(error instanceof GatewayError) && !(error instanceof ManagementError)) {
      const status = (error as { status?: unknown } | null)?.status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        known =
          status === 413
            ? new GatewayError('GW_ERR_BODY_TOO_LARGE', 'the request body is too large')
            : new GatewayError('GW_ERR_BAD_REQUEST', (error as Error).message);
      } else {
        logger?.error(
          { err: error, requestId: requestState(res).requestId },
          'unexpected error while handling a request',
        );
      }
    }
    if (known instanceof GatewayError) requestState(res).errorCode = known.code;
    const answer = errorAnswer(known);
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    res.status(answer.status).send(Buffer.from(answer.body ?? '', 'utf8'));
  };
}
