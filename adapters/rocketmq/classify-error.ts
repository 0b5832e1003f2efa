/**
 * The one place where rocketmq-client-nodejs failures become AdapterErrors.
 *
 * What the client throws:
 * - ClientException subclasses (BadRequestException, NotFoundException, ...) carrying the proxy's
 *   status `code` (apache.rocketmq.v2.Code, a protocol constant such as 40402 TOPIC_NOT_FOUND);
 * - gRPC errors from @grpc/grpc-js (`code` = gRPC status 0..16, plus `details` and `metadata`) when
 *   the call itself failed: proxy down, deadline passed, connection dropped;
 * - plain TypeError/Error for its own checks (message type not accepted by the topic, body too big,
 *   producer not running, no writable queue). Those carry nothing but a message, so they are the
 *   only cases matched by text, and anything unrecognised falls back to ADP_ERR_INTERNAL, which is
 *   retriable and ambiguous (the safe side).
 */
import { AdapterError, type AdapterErrorCode, type AdapterErrorOptions } from '../core/index.js';
import { ClientException } from 'rocketmq-client-nodejs';

/** apache.rocketmq.v2.Code values (definition.proto); wire-protocol constants. */
export const RocketMqCode = {
  OK: 20000,
  MULTIPLE_RESULTS: 30000,
  BAD_REQUEST: 40000,
  ILLEGAL_TOPIC: 40002,
  ILLEGAL_MESSAGE_TAG: 40004,
  ILLEGAL_MESSAGE_PROPERTY_KEY: 40007,
  MESSAGE_PROPERTY_CONFLICT_WITH_TYPE: 40014,
  UNAUTHORIZED: 40100,
  PAYMENT_REQUIRED: 40200,
  FORBIDDEN: 40300,
  NOT_FOUND: 40400,
  TOPIC_NOT_FOUND: 40402,
  REQUEST_TIMEOUT: 40800,
  PAYLOAD_TOO_LARGE: 41300,
  MESSAGE_BODY_TOO_LARGE: 41301,
  MESSAGE_BODY_EMPTY: 41302,
  PRECONDITION_FAILED: 42800,
  TOO_MANY_REQUESTS: 42900,
  REQUEST_HEADER_FIELDS_TOO_LARGE: 43100,
  MESSAGE_PROPERTIES_TOO_LARGE: 43101,
  INTERNAL_ERROR: 50000,
  INTERNAL_SERVER_ERROR: 50001,
  HA_NOT_AVAILABLE: 50002,
  NOT_IMPLEMENTED: 50100,
  PROXY_TIMEOUT: 50400,
  MASTER_PERSISTENCE_TIMEOUT: 50401,
  SLAVE_PERSISTENCE_TIMEOUT: 50402,
  UNSUPPORTED: 50500,
} as const;

/** gRPC status codes (grpc/status.h). */
export const GrpcStatus = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export interface ClassifyContext {
  /**
   * The client may have made several attempts (maxAttempts > 1): a transport failure of the last one
   * says nothing about the earlier ones, so it is ambiguous whatever it looks like.
   */
  readonly clientMayHaveRetried?: boolean;
  /**
   * TOPIC_NOT_FOUND is normally final (ADP_ERR_NO_DESTINATION). Right after a (re)connect the proxy
   * may not know the broker's routes yet, so the adapter asks for it to be retriable then, for a
   * topic it has published to before.
   */
  readonly topicNotFoundIsTransient?: boolean;
}

/** A gRPC error as @grpc/grpc-js reports it (ServiceError), recognised without importing grpc-js. */
export interface GrpcLikeError extends Error {
  code: number;
  details: string;
}

export function isGrpcError(error: unknown): error is GrpcLikeError {
  return (
    error instanceof Error &&
    !(error instanceof ClientException) &&
    typeof (error as Partial<GrpcLikeError>).code === 'number' &&
    typeof (error as Partial<GrpcLikeError>).details === 'string'
  );
}

/**
 * True for failures that say the proxy could not be reached or stopped answering: the adapter then
 * probes the proxy and, if it is down, fails fast until it is back.
 */
export function isConnectivityFailure(error: unknown): boolean {
  if (!isGrpcError(error)) return false;
  return (
    error.code === GrpcStatus.UNAVAILABLE ||
    error.code === GrpcStatus.DEADLINE_EXCEEDED ||
    error.code === GrpcStatus.CANCELLED
  );
}

export function classifyRocketMqError(error: unknown, context: ClassifyContext = {}): AdapterError {
  if (error instanceof AdapterError) return error;
  if (error instanceof ClientException) return classifyStatus(error.code, error.message, error, context);
  if (isGrpcError(error)) return classifyGrpc(error, context);
  // The client wraps some failures (startup: "Startup the rocketmq client failed") with the real one as cause.
  const cause: unknown = error instanceof Error ? error.cause : undefined;
  if (cause instanceof ClientException || isGrpcError(cause)) return classifyRocketMqError(cause, context);
  return classifyClientCheck(error);
}

/** The proxy answered with a non-OK status. */
function classifyStatus(
  code: number,
  message: string,
  cause: unknown,
  context: ClassifyContext,
): AdapterError {
  const make = (adapterCode: AdapterErrorCode, what: string, options: AdapterErrorOptions = {}) =>
    new AdapterError(adapterCode, `rocketmq proxy: ${what} (code ${code}): ${message}`, {
      cause,
      ...options,
    });
  switch (code) {
    case RocketMqCode.UNAUTHORIZED:
    case RocketMqCode.FORBIDDEN:
    case RocketMqCode.PAYMENT_REQUIRED:
      return make('ADP_ERR_AUTH', 'credentials refused or not allowed');
    case RocketMqCode.TOPIC_NOT_FOUND:
    case RocketMqCode.NOT_FOUND:
      return context.topicNotFoundIsTransient
        ? make('ADP_ERR_UNAVAILABLE', 'topic route not known yet after reconnecting')
        : make('ADP_ERR_NO_DESTINATION', 'topic does not exist (create it; the proxy does not auto-create)');
    case RocketMqCode.ILLEGAL_TOPIC:
      return make('ADP_ERR_INVALID_DESTINATION', 'illegal topic name');
    case RocketMqCode.PAYLOAD_TOO_LARGE:
    case RocketMqCode.MESSAGE_BODY_TOO_LARGE:
    case RocketMqCode.REQUEST_HEADER_FIELDS_TOO_LARGE:
    case RocketMqCode.MESSAGE_PROPERTIES_TOO_LARGE:
      return make('ADP_ERR_TOO_LARGE', 'message too large');
    case RocketMqCode.TOO_MANY_REQUESTS:
      return make('ADP_ERR_BACKPRESSURE', 'throttled');
    case RocketMqCode.REQUEST_TIMEOUT:
    case RocketMqCode.PROXY_TIMEOUT:
      return make('ADP_ERR_TIMEOUT', 'timed out inside the proxy; the broker may have stored the message');
    case RocketMqCode.MASTER_PERSISTENCE_TIMEOUT:
    case RocketMqCode.SLAVE_PERSISTENCE_TIMEOUT:
    case RocketMqCode.HA_NOT_AVAILABLE:
      return make('ADP_ERR_TIMEOUT', 'stored but not confirmed durable (flush or replication)');
    case RocketMqCode.INTERNAL_ERROR:
    case RocketMqCode.INTERNAL_SERVER_ERROR:
      return make('ADP_ERR_INTERNAL', 'internal error; the broker may have stored the message');
    default:
      break;
  }
  // 400xx (bad request: message type not accepted, illegal tag/key/property...), 412xx, 501xx,
  // 505xx (unsupported): retrying the same message cannot help.
  if (code >= 40000 && code < 60000) return make('ADP_ERR_REJECTED', 'message refused');
  return make('ADP_ERR_INTERNAL', 'unexpected status');
}

/** The gRPC call itself failed. */
function classifyGrpc(error: GrpcLikeError, context: ClassifyContext): AdapterError {
  const text = `rocketmq proxy call failed: gRPC status ${error.code}: ${error.details || error.message}`;
  const retried = context.clientMayHaveRetried === true;
  switch (error.code) {
    case GrpcStatus.UNAVAILABLE:
      // grpc-js fails a call at once with "No connection established" while the channel has no
      // connection: nothing reached the proxy. Any other UNAVAILABLE (connection reset mid-call)
      // may have reached it. grpc-js exposes no flag for this, so the text is the only signal; if
      // it changes we fall back to ambiguous, the safe side.
      if (!retried && error.details.startsWith('No connection established')) {
        return new AdapterError('ADP_ERR_UNAVAILABLE', text, { cause: error });
      }
      return new AdapterError('ADP_ERR_CONNECTION_LOST', text, { cause: error });
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new AdapterError('ADP_ERR_TIMEOUT', text, { cause: error });
    case GrpcStatus.CANCELLED:
      return new AdapterError('ADP_ERR_CONNECTION_LOST', text, { cause: error });
    case GrpcStatus.UNAUTHENTICATED:
    case GrpcStatus.PERMISSION_DENIED:
      return new AdapterError('ADP_ERR_AUTH', text, { cause: error });
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new AdapterError('ADP_ERR_BACKPRESSURE', text, { cause: error, ambiguous: retried });
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.NOT_FOUND:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
    case GrpcStatus.UNIMPLEMENTED:
      return new AdapterError('ADP_ERR_REJECTED', text, { cause: error });
    default:
      return new AdapterError('ADP_ERR_INTERNAL', text, { cause: error });
  }
}

/** The client's own checks, before or instead of a call. Only messages to go by here. */
function classifyClientCheck(error: unknown): AdapterError {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error;
  if (/message type not match/i.test(message)) {
    return new AdapterError(
      'ADP_ERR_REJECTED',
      `rocketmq: the topic does not accept this message type (a FIFO topic needs fifo: true, a NORMAL topic fifo: false): ${message}`,
      { cause },
    );
  }
  if (/body size exceeds/i.test(message)) {
    return new AdapterError('ADP_ERR_TOO_LARGE', `rocketmq: ${message}`, { cause });
  }
  if (/mutually exclusive|should not set/i.test(message)) {
    return new AdapterError('ADP_ERR_REJECTED', `rocketmq: ${message}`, { cause });
  }
  if (/not running/i.test(message)) {
    return new AdapterError('ADP_ERR_UNAVAILABLE', `rocketmq: producer not running: ${message}`, { cause });
  }
  if (/no writable message queue/i.test(message)) {
    return new AdapterError(
      'ADP_ERR_UNAVAILABLE',
      `rocketmq: the topic has no writable queue now: ${message}`,
      {
        cause,
      },
    );
  }
  return new AdapterError('ADP_ERR_INTERNAL', `rocketmq client: ${message}`, { cause });
}

/**
 * The answer to a heartbeat probe. Any answer proves the proxy is reachable (a client that has not
 * synced settings yet gets a bad-request status, which is fine); refused credentials are the one
 * answer that makes the target unusable.
 */
export function classifyProbeStatus(status: {
  readonly code: number;
  readonly message: string;
}): AdapterError | undefined {
  if (
    status.code === RocketMqCode.UNAUTHORIZED ||
    status.code === RocketMqCode.FORBIDDEN ||
    status.code === RocketMqCode.PAYMENT_REQUIRED
  ) {
    return classifyStatus(status.code, status.message, undefined, {});
  }
  return undefined;
}
