/**
 * Every error the gateway answers with, in one registry (house habit 1). Each code has a status, a
 * title and whether the caller may retry the same request. openapi/ documents every code, and
 * test/http/error-registry.test.ts fails when one is missing there.
 *
 * Naming: GW_ERR_<AREA>_<WHAT>. Codes are a public, stable contract: never rename one.
 */
export const GATEWAY_ERRORS = {
  // 400 — the request is malformed; nothing was kept.
  GW_ERR_BAD_REQUEST: { status: 400, title: 'Malformed request', retriable: false },
  GW_ERR_INVALID_TOPIC: { status: 400, title: 'Invalid topic name', retriable: false },
  GW_ERR_INVALID_JSON: { status: 400, title: 'Malformed JSON body', retriable: false },
  GW_ERR_JSON_TOO_DEEP: { status: 400, title: 'JSON nested too deeply', retriable: false },
  GW_ERR_INVALID_HEADER: { status: 400, title: 'Invalid message header', retriable: false },
  GW_ERR_INVALID_MESSAGE_ID: { status: 400, title: 'Invalid message id', retriable: false },
  GW_ERR_INVALID_MESSAGE_KEY: { status: 400, title: 'Invalid message key', retriable: false },
  GW_ERR_INVALID_BATCH: { status: 400, title: 'Invalid batch', retriable: false },
  GW_ERR_INVALID_QUERY: { status: 400, title: 'Invalid query parameter', retriable: false },
  GW_ERR_IDEMPOTENCY_KEY_INVALID: { status: 400, title: 'Invalid Idempotency-Key', retriable: false },
  GW_ERR_INVALID_TRANSACTION: { status: 400, title: 'Invalid transaction request', retriable: false },
  GW_ERR_INVALID_DELAY: {
    status: 400,
    title: 'Invalid delivery delay (Deliver-After / Deliver-At)',
    retriable: false,
  },
  GW_ERR_INVALID_CLOUDEVENT: {
    status: 400,
    title: 'Invalid CloudEvent (attributes, data or event format)',
    retriable: false,
  },
  GW_ERR_INVALID_ENCODING: {
    status: 400,
    title: 'The body does not decode with its Content-Encoding',
    retriable: false,
  },
  // 401/403 — who the caller is and what it may do.
  GW_ERR_UNAUTHENTICATED: { status: 401, title: 'Missing or invalid credentials', retriable: false },
  GW_ERR_FORBIDDEN_TOPIC: { status: 403, title: 'Topic not granted to this tenant', retriable: false },
  GW_ERR_RESERVED_TOPIC: { status: 403, title: 'Broker-internal topic name', retriable: false },
  GW_ERR_TENANT_HEADER: { status: 403, title: 'The tenant comes from the credential', retriable: false },
  // 404/405 — what exists.
  GW_ERR_NOT_FOUND: { status: 404, title: 'No such resource', retriable: false },
  GW_ERR_NO_ROUTE: { status: 404, title: 'No route for this topic', retriable: false },
  GW_ERR_NO_DESTINATION: {
    status: 404,
    title: "The topic's destination does not exist on the broker",
    retriable: false,
  },
  GW_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', retriable: false },
  GW_ERR_TOPIC_NOT_READABLE: {
    status: 405,
    title: 'The topic cannot be read through the gateway',
    retriable: false,
  },
  // 408 — the request did not arrive within the server's time limits; the connection is closed.
  GW_ERR_REQUEST_TIMEOUT: { status: 408, title: 'Request not received in time', retriable: true },
  // 409/422 — Idempotency-Key conflicts.
  GW_ERR_TRANSACTION_CONFLICT: {
    status: 409,
    title: 'The transaction was already decided otherwise (or is no longer open)',
    retriable: false,
  },
  GW_ERR_TRANSACTION_FULL: {
    status: 409,
    title: 'The transaction holds as many messages as it may (transactions.maxMessages)',
    retriable: false,
  },
  GW_ERR_IDEMPOTENCY_IN_FLIGHT: {
    status: 409,
    title: 'A request with this Idempotency-Key is still in flight',
    retriable: true,
  },
  GW_ERR_NOT_CANCELLABLE: {
    status: 409,
    title: 'The message is no longer scheduled: it was handed to the broker (or was never delayed)',
    retriable: false,
  },
  GW_ERR_IDEMPOTENCY_MISMATCH: {
    status: 422,
    title: 'Idempotency-Key reused with a different request',
    retriable: false,
  },
  GW_ERR_SCHEMA_VIOLATION: {
    status: 422,
    title: "The payload does not match the route's JSON Schema",
    retriable: false,
  },
  // 413/415 — what the route accepts.
  GW_ERR_BODY_TOO_LARGE: { status: 413, title: 'Request body too large for this route', retriable: false },
  GW_ERR_MESSAGE_TOO_LARGE: { status: 413, title: 'Message too large for the broker', retriable: false },
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Content type not accepted by this route',
    retriable: false,
  },
  GW_ERR_UNSUPPORTED_ENCODING: {
    status: 415,
    title: 'Content-Encoding not accepted by this route',
    retriable: false,
  },
  // 417/431 — refused while the request was parsed; the connection is closed.
  GW_ERR_EXPECTATION_FAILED: { status: 417, title: 'Expectation not supported', retriable: false },
  GW_ERR_HEADERS_TOO_LARGE: {
    status: 431,
    title: 'Request headers too large or too many',
    retriable: false,
  },
  // 429 — the caller is over a limit; retry after Retry-After (RateLimit and RateLimit-Policy agree).
  GW_ERR_QUOTA_EXCEEDED: { status: 429, title: 'Tenant quota exceeded', retriable: true },
  GW_ERR_TENANT_BUSY: {
    status: 429,
    title: 'Too many requests of this tenant in progress',
    retriable: true,
  },
  GW_ERR_TOO_MANY_AUTH_FAILURES: {
    status: 429,
    title: 'Too many failed authentications from this client',
    retriable: true,
  },
  // 501 — a method this gateway has no use for (CONNECT, unknown methods); the connection is closed.
  GW_ERR_METHOD_NOT_IMPLEMENTED: { status: 501, title: 'Method not implemented', retriable: false },
  // 500/503 — our side. Nothing was kept unless the body says otherwise; safe to retry.
  GW_ERR_INTERNAL: { status: 500, title: 'Internal error', retriable: true },
  GW_ERR_BROKER_UNAVAILABLE: { status: 503, title: 'Broker unavailable', retriable: true },
  GW_ERR_BROKER_TIMEOUT: {
    status: 503,
    title: 'Broker did not confirm in time; the message may have been written',
    retriable: true,
  },
  GW_ERR_BROKER_REJECTED: { status: 503, title: 'Broker refused the message', retriable: false },
  GW_ERR_BREAKER_OPEN: {
    status: 503,
    title: "The broker target's circuit breaker is open; the broker was not called",
    retriable: true,
  },
  GW_ERR_UNROUTABLE: {
    status: 503,
    title: 'Broker could not route the message to any queue',
    retriable: false,
  },
  GW_ERR_SHUTTING_DOWN: { status: 503, title: 'Gateway is shutting down', retriable: true },
  GW_ERR_OVERLOADED: {
    status: 503,
    title: 'Gateway overloaded; lower-priority requests are shed first',
    retriable: true,
  },
  GW_ERR_AUTH_UNAVAILABLE: {
    status: 503,
    title: "The token issuer's signing keys are unavailable",
    retriable: true,
  },
  GW_ERR_OUTBOX_FULL: { status: 503, title: 'Outbox full; the message was not accepted', retriable: true },
  GW_ERR_TRANSACTION_STORE_UNAVAILABLE: {
    status: 503,
    title: 'The transaction store cannot be used now; retry (a commit already made stands)',
    retriable: true,
  },
  GW_ERR_OUTBOX_UNAVAILABLE: {
    status: 503,
    title: 'Outbox cannot be written; the message was not accepted',
    retriable: true,
  },
  GW_ERR_STORE_UNAVAILABLE: {
    status: 503,
    title: 'A store the request needs is unavailable (e.g. idempotency)',
    retriable: true,
  },
} as const satisfies Record<string, GatewayErrorSpec>;

export interface GatewayErrorSpec {
  readonly status: number;
  readonly title: string;
  /** The same request may succeed later (sent again, ideally with the same Idempotency-Key). */
  readonly retriable: boolean;
}

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

export const GATEWAY_ERROR_CODES = Object.keys(GATEWAY_ERRORS) as GatewayErrorCode[];

/** One problem in a list of problems (batch validation), pointing at the message it concerns. */
export interface ProblemItem {
  readonly index?: number;
  readonly code: GatewayErrorCode;
  readonly detail: string;
  /** GW_ERR_SCHEMA_VIOLATION: where in the payload (a JSON Pointer; '' is the payload itself). */
  readonly path?: string;
  /** GW_ERR_SCHEMA_VIOLATION: what the schema requires there. */
  readonly message?: string;
}

export interface GatewayErrorOptions {
  /** Seconds a client should wait before retrying; set for every 503 and 429. */
  readonly retryAfterSeconds?: number;
  /** Extra response headers (e.g. Allow, WWW-Authenticate). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly errors?: readonly ProblemItem[];
  readonly cause?: unknown;
}

/** A coded error that becomes an application/problem+json answer. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly code: GatewayErrorCode;
  readonly status: number;
  readonly retriable: boolean;
  readonly retryAfterSeconds?: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly errors?: readonly ProblemItem[];

  constructor(code: GatewayErrorCode, detail: string, options: GatewayErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    const spec: GatewayErrorSpec = GATEWAY_ERRORS[code];
    this.code = code;
    this.status = spec.status;
    this.retriable = spec.retriable;
    this.headers = options.headers ?? {};
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    else if (spec.status === 503 || spec.status === 429) this.retryAfterSeconds = 1;
    if (options.errors !== undefined) this.errors = options.errors;
  }
}

/** RFC 9457 problem details, with our stable `code` and the request id for support. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: GatewayErrorCode;
  retriable: boolean;
  instance?: string;
  requestId?: string;
  errors?: readonly ProblemItem[];
}

export function problemType(code: GatewayErrorCode): string {
  return `urn:pubgate:problem:${code}`;
}

export function toProblem(
  error: GatewayError,
  context: { instance?: string; requestId?: string },
): ProblemDocument {
  return {
    type: problemType(error.code),
    title: GATEWAY_ERRORS[error.code].title,
    status: error.status,
    detail: error.message,
    code: error.code,
    retriable: error.retriable,
    ...(context.instance === undefined ? {} : { instance: context.instance }),
    ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
    ...(error.errors === undefined ? {} : { errors: error.errors }),
  };
}
