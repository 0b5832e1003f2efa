/**
 * Dapr's error answers: `{"errorCode": "ERR_…", "message": "…"}` with Dapr's status codes, in place
 * of pubgate's problem+json. pubgate's GatewayErrors are translated here (see README.md in this
 * folder for the table); Retry-After, RateLimit and Allow headers are kept.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../../adapters/core/index.js';
import { GatewayError, type GatewayErrorCode } from '../../errors/registry.js';
import { requestState } from '../../http/request-state.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

/** One failed entry of a bulk publish, as Dapr and the JS SDK read it (see README.md). */
export interface FailedEntry {
  readonly entryId: string;
  /** The key the `@dapr/dapr` JS SDK looks for (dapr/js-sdk#703); deliberately sent as well. */
  readonly entryID: string;
  readonly error: string;
}

export interface DaprErrorOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly retryAfterSeconds?: number;
  /** The pubgate code behind the answer, for the access log, metrics and `details`. */
  readonly reason?: string;
  readonly failedEntries?: readonly FailedEntry[];
}

/** An answer in Dapr's error format. */
export class DaprError extends Error {
  override readonly name = 'DaprError';
  readonly headers: Readonly<Record<string, string>>;
  readonly retryAfterSeconds?: number;
  readonly reason: string;
  readonly failedEntries?: readonly FailedEntry[];

  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    options: DaprErrorOptions = {},
  ) {
    super(message);
    this.headers = options.headers ?? {};
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    this.reason = options.reason ?? errorCode;
    if (options.failedEntries !== undefined) this.failedEntries = options.failedEntries;
  }
}

/** pubgate codes with a Dapr counterpart; every other GW_ERR_X becomes ERR_PUBSUB_X, same status. */
const DAPR_CODES: Partial<Record<GatewayErrorCode, readonly [status: number, errorCode: string]>> = {
  GW_ERR_FORBIDDEN_TOPIC: [403, 'ERR_PUBSUB_FORBIDDEN'],
  GW_ERR_RESERVED_TOPIC: [403, 'ERR_PUBSUB_FORBIDDEN'],
  GW_ERR_TENANT_HEADER: [403, 'ERR_PUBSUB_FORBIDDEN'],
  GW_ERR_INVALID_JSON: [400, 'ERR_PUBSUB_CLOUD_EVENTS_SER'],
  GW_ERR_JSON_TOO_DEEP: [400, 'ERR_PUBSUB_CLOUD_EVENTS_SER'],
  GW_ERR_INVALID_MESSAGE_ID: [400, 'ERR_PUBSUB_CLOUD_EVENTS_SER'],
  GW_ERR_INVALID_MESSAGE_KEY: [400, 'ERR_PUBSUB_REQUEST_METADATA'],
  GW_ERR_INVALID_BATCH: [400, 'ERR_PUBSUB_EVENTS_SER'],
  GW_ERR_INTERNAL: [500, 'ERR_PUBSUB_PUBLISH_MESSAGE'],
};

/** The Dapr answer for a pubgate error. Broker-side failures (5xx) keep 503 and Retry-After. */
export function daprErrorOf(error: GatewayError): DaprError {
  const mapped = DAPR_CODES[error.code];
  const [status, errorCode] =
    mapped ??
    (error.status >= 500
      ? [error.status, 'ERR_PUBSUB_PUBLISH_MESSAGE']
      : [error.status, `ERR_PUBSUB_${error.code.replace(/^GW_ERR_/, '')}`]);
  return new DaprError(status, errorCode, error.message, {
    headers: error.headers,
    reason: error.code,
    ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
  });
}

/** What an error answer looks like on the wire (also what Idempotency-Key replays). */
export function errorAnswer(
  error: DaprError,
  requestId: string,
): { status: number; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { ...error.headers, 'content-type': JSON_TYPE };
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  const body = {
    errorCode: error.errorCode,
    message: error.message,
    ...(error.failedEntries === undefined ? {} : { failedEntries: error.failedEntries }),
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        domain: 'pubgate',
        reason: error.reason,
        metadata: { requestId },
      },
    ],
  };
  return { status: error.status, headers, body: JSON.stringify(body) };
}

export function sendDaprError(res: Response, error: DaprError): void {
  const state = requestState(res);
  state.errorCode = error.reason;
  const answer = errorAnswer(error, state.requestId);
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.status(answer.status).send(answer.body);
}

/** Any error thrown on a Dapr path, as a Dapr answer. */
export function toDaprError(error: unknown, logger: Logger | undefined, res: Response): DaprError {
  if (error instanceof DaprError) return error;
  if (error instanceof GatewayError) return daprErrorOf(error);
  if (isHttpError(error) && error.status >= 400 && error.status < 500) {
    // Raised by express or raw-body for malformed requests.
    return daprErrorOf(
      error.status === 413
        ? new GatewayError('GW_ERR_BODY_TOO_LARGE', 'the request body is too large')
        : new GatewayError('GW_ERR_BAD_REQUEST', error.message),
    );
  }
  logger?.error(
    { err: error, requestId: requestState(res).requestId },
    'unexpected error while handling a Dapr request',
  );
  return daprErrorOf(new GatewayError('GW_ERR_INTERNAL', 'an internal error occurred; it has been logged'));
}

/** The error handler of the Dapr paths (/v1.0/…, /v1.0-alpha1/…); other paths pass through. */
export function createDaprErrorHandler(logger: Logger | undefined) {
  return (error: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (!isDaprPath(req.path)) {
      next(error);
      return;
    }
    const dapr = toDaprError(error, logger, res);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendDaprError(res, dapr);
  };
}

export function isDaprPath(path: string): boolean {
  return path.startsWith('/v1.0/') || path.startsWith('/v1.0-alpha1/');
}

function isHttpError(error: unknown): error is { status: number; message: string } {
  return (
    typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number'
  );
}
