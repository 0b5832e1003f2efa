/**
 * Errors in the REST Proxy's and the Kafka Bridge's own shape, `{"error_code", "message"}`, never
 * problem+json. The REST Proxy refines some statuses into 5-digit codes (40101, 40301, 40401,
 * 40402, 42206, 50002, 50003); the bridge's error_code is the HTTP status.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../../adapters/core/index.js';
import { GatewayError } from '../../errors/registry.js';
import { requestState } from '../../http/request-state.js';
import { withItems, type RawAnswer } from '../../http/answer-once.js';

/** Whose error codes a request gets: the REST Proxy's (v2 and v3) or the Kafka Bridge's. */
export type ErrorFlavour = 'confluent' | 'strimzi';

export const V2_CONTENT_TYPE = 'application/vnd.kafka.v2+json';
export const V3_CONTENT_TYPE = 'application/json';

/** An error only these APIs have (no GW_ERR_* fits), with its status and REST Proxy code. */
export class KafkaRestError extends Error {
  override readonly name = 'KafkaRestError';
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const SCHEMA_REGISTRY_CODE = 42206;

/** A Schema Registry format (avro, protobuf, jsonschema, or schema fields) was asked for. */
export function schemaRegistryError(what: string): KafkaRestError {
  return new KafkaRestError(
    422,
    SCHEMA_REGISTRY_CODE,
    `${what} needs a Schema Registry, which pubgate does not run; send the binary, json or string form instead`,
  );
}

export interface KafkaRestFailure {
  readonly status: number;
  readonly errorCode: number;
  readonly message: string;
  readonly headers: Record<string, string>;
  /** The failure may go away on retry (a 5xx). */
  readonly retriable: boolean;
}

/** The status, code and message of any error, for `flavour`. */
export function failureOf(error: unknown, flavour: ErrorFlavour): KafkaRestFailure {
  if (error instanceof KafkaRestError) {
    return {
      status: error.status,
      errorCode: flavour === 'strimzi' ? error.status : error.errorCode,
      message: error.message,
      headers: {},
      retriable: false,
    };
  }
  const gateway = error instanceof GatewayError ? error : undefined;
  const status = gateway?.status ?? 500;
  const message = gateway ? withItems(gateway) : 'an internal error occurred; it has been logged';
  const headers: Record<string, string> = { ...(gateway?.headers ?? {}) };
  if (gateway?.retryAfterSeconds !== undefined) headers['Retry-After'] = String(gateway.retryAfterSeconds);
  return {
    status,
    errorCode: flavour === 'strimzi' || !gateway ? status : confluentCode(gateway),
    message,
    headers,
    retriable: status >= 500,
  };
}

function confluentCode(error: GatewayError): number {
  switch (error.code) {
    case 'GW_ERR_UNAUTHENTICATED':
      return 40101;
    case 'GW_ERR_FORBIDDEN_TOPIC':
    case 'GW_ERR_RESERVED_TOPIC':
    case 'GW_ERR_TENANT_HEADER':
      return 40301;
    case 'GW_ERR_NO_ROUTE':
    case 'GW_ERR_NO_DESTINATION':
      return 40401;
    case 'GW_ERR_INTERNAL':
      return 500;
    default:
      // Broker failures: the REST Proxy's "Kafka error" (50002) or "retriable Kafka error" (50003).
      if (error.status >= 500) return error.retriable ? 50003 : 50002;
      return error.status;
  }
}

/** The whole answer for an error. */
export function errorAnswer(error: unknown, flavour: ErrorFlavour, contentType: string): RawAnswer {
  const failure = failureOf(error, flavour);
  return {
    status: failure.status,
    headers: { ...failure.headers, 'content-type': contentType },
    body: JSON.stringify({ error_code: failure.errorCode, message: failure.message }),
  };
}

/**
 * The router's error handler: the flavour and content type a route chose (res.locals) or the
 * REST Proxy's. Errors that are not the caller's are logged, never shown.
 */
export function createKafkaRestErrorHandler(logger: Logger | undefined) {
  return (error: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const chosen = res.locals as { kafkaRestFlavour?: ErrorFlavour; kafkaRestContentType?: string };
    let known = error;
    if (!(error instanceof GatewayError) && !(error instanceof KafkaRestError)) {
      const status = (error as { status?: unknown } | null)?.status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        // Errors raised by express or raw-body for malformed requests.
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
    const answer = errorAnswer(
      known,
      chosen.kafkaRestFlavour ?? 'confluent',
      chosen.kafkaRestContentType ?? V2_CONTENT_TYPE,
    );
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    res.status(answer.status).send(Buffer.from(answer.body ?? '', 'utf8'));
  };
}

/** Per request: whose error format and content type errors get. */
export function chooseErrorFormat(res: Response, flavour: ErrorFlavour, contentType: string): void {
  Object.assign(res.locals, { kafkaRestFlavour: flavour, kafkaRestContentType: contentType });
}
