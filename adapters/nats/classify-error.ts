/**
 * The one place where nats.js errors become AdapterErrors (house habit 2).
 *
 * What nats.js 3.x gives us to read, in order of preference:
 * - The error class, by its `name` (every nats.js error sets one): ClosedConnectionError,
 *   TimeoutError, RequestError, NoResponders, AuthorizationError, JetStreamApiError, ...
 *   Matched by name rather than instanceof, so a second copy of the library cannot defeat it.
 * - JetStream API errors carry the server's `err_code` (10059 stream not found, 10054 message too
 *   large, ...) in `code`, and the HTTP-like status in `status`.
 * - A publish to a subject no stream binds is answered "no responders" by the server; the
 *   JetStream client rethrows that as JetStreamNotEnabled with the RequestError as its cause. The
 *   adapter asks the JetStream API whether a stream binds the subject before it reports
 *   ADP_ERR_NO_DESTINATION (a stream still recovering after a restart answers the same way).
 * - Node socket errors (ECONNREFUSED, ...), usually as the `cause` of a ConnectionError.
 */
import { AdapterError, TLS_TRUST_ERROR_CODES, type AdapterErrorCode } from '../core/index.js';

/** JetStream API error codes (`err_code`) the adapter reads. */
export const JS_ERR = {
  JETSTREAM_UNAVAILABLE: 10008,
  JETSTREAM_INSUFFICIENT_RESOURCES: 10023,
  JETSTREAM_NOT_ENABLED_FOR_ACCOUNT: 10039,
  STREAM_INSUFFICIENT_RESOURCES: 10047,
  MESSAGE_TOO_LARGE: 10054,
  STREAM_NAME_IN_USE: 10058,
  STREAM_NOT_FOUND: 10059,
  STREAM_SUBJECT_OVERLAP: 10065,
  STREAM_STORE_FAILED: 10077,
} as const;

export interface ClassifyOptions {
  /**
   * The message had been sent and was waiting for its PubAck when this error came. Its fate is
   * then unknown: the stream may have stored it. Transient causes become ADP_ERR_CONNECTION_LOST;
   * definite ones keep their code but are marked ambiguous.
   */
  readonly inFlight?: boolean;
}

/** Socket-level failures: the server was not reachable or the TCP connection broke. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
]);

/** A stream full under its limits (discard new), or a server short of storage. */
const STORE_FULL =
  /maximum (messages|bytes|messages per subject) exceeded|insufficient resources|resource limits exceeded/i;

type Make = (code: AdapterErrorCode, text?: string) => AdapterError;

/** The error makers of one classification: for connection-side failures, and for server answers. */
interface Makers {
  /** A failure on our side of the connection: ambiguous (or connection lost) once in flight. */
  readonly make: Make;
  /** The server answered and refused, or the client refused before sending: definite, not stored. */
  readonly answer: Make;
}

/** True for the server's "no responders" answer, whichever error wraps it. */
export function isNoResponders(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    if (current.name === 'NoResponders') return true;
    const check = (current as { isNoResponders?: () => boolean }).isNoResponders;
    if (current.name === 'RequestError' && typeof check === 'function' && check.call(current)) return true;
    current = current.cause;
  }
  return false;
}

export function classifyNatsError(error: unknown, options: ClassifyOptions = {}): AdapterError {
  if (error instanceof AdapterError) return error;
  const inFlight = options.inFlight ?? false;
  const message = error instanceof Error ? error.message : String(error);
  const makers: Makers = {
    make(code, text = message) {
      if (inFlight && isTransient(code)) {
        return new AdapterError('ADP_ERR_CONNECTION_LOST', `connection lost before the PubAck: ${text}`, {
          cause: error,
        });
      }
      return new AdapterError(code, text, { cause: error, ...(inFlight ? { ambiguous: true } : {}) });
    },
    answer: (code, text = message) => new AdapterError(code, text, { cause: error }),
  };
  if (!(error instanceof Error)) {
    return makers.make('ADP_ERR_INTERNAL', `non-Error thrown by nats.js: ${message}`);
  }
  // The server answered at once that nothing listens on the subject: nothing was stored.
  if (isNoResponders(error)) {
    return makers.answer(
      'ADP_ERR_NO_DESTINATION',
      `no stream answered for the subject (no responders): ${message}`,
    );
  }
  return byName(error, message, makers, inFlight) ?? byCode(error, message, makers);
}

/** The error classes nats.js raises, by name. Undefined when the name says nothing. */
function byName(
  error: Error,
  message: string,
  { make, answer }: Makers,
  inFlight: boolean,
): AdapterError | undefined {
  switch (error.name) {
    case 'TimeoutError':
      // After the send: the stream may have stored it. Before (connecting): nothing was written.
      return inFlight
        ? new AdapterError('ADP_ERR_TIMEOUT', `no PubAck in time; the stream may have the message`, {
            cause: error,
          })
        : make('ADP_ERR_UNAVAILABLE', `timed out: ${message}`);
    case 'ClosedConnectionError':
    case 'DrainingConnectionError':
      // Raised before anything is written: nothing was sent, whatever the caller was doing.
      return answer('ADP_ERR_UNAVAILABLE', `connection not open: ${message}`);
    case 'ConnectionError':
      return make('ADP_ERR_UNAVAILABLE', `server unreachable: ${message}`);
    case 'RequestError':
      // "connection closed" / "connection disconnected": the request died with the connection.
      return /connection (closed|disconnected)/.test(message)
        ? make('ADP_ERR_UNAVAILABLE', `connection lost: ${message}`)
        : make('ADP_ERR_INTERNAL');
    case 'AuthorizationError':
    case 'UserAuthenticationExpiredError':
    case 'PermissionViolationError':
      return answer('ADP_ERR_AUTH');
    case 'InvalidSubjectError':
      return answer('ADP_ERR_INVALID_DESTINATION');
    case 'InvalidArgumentError':
      // Raised by the client before anything is sent.
      return /max_payload/.test(message)
        ? answer('ADP_ERR_TOO_LARGE', `message over the server's max_payload: ${message}`)
        : answer('ADP_ERR_REJECTED');
    case 'ProtocolError':
      // The server closes the connection after a protocol error ('-ERR ...').
      return /maximum payload/i.test(message)
        ? make('ADP_ERR_TOO_LARGE')
        : make('ADP_ERR_UNAVAILABLE', `server closed the connection: ${message}`);
    case 'JetStreamNotEnabled':
      return answer('ADP_ERR_AUTH', `JetStream is not enabled for this account: ${message}`);
    case 'JetStreamStatusError': {
      const status = (error as { code?: unknown }).code;
      return status === 408 && inFlight
        ? new AdapterError('ADP_ERR_TIMEOUT', message, { cause: error })
        : make(status === 503 ? 'ADP_ERR_UNAVAILABLE' : 'ADP_ERR_INTERNAL');
    }
    default:
      return undefined;
  }
}

/** JetStream API errors by err_code, then Node socket codes; anything else is internal. */
function byCode(error: Error, message: string, { make, answer }: Makers): AdapterError {
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code === 'number' && (error.name.endsWith('ApiError') || error.name === 'StreamNotFoundError')) {
    const status = (error as { status?: unknown }).status;
    // The stream answered the publish with an error: it did not store the message.
    return fromApiCode(code, typeof status === 'number' ? status : 0, message, answer);
  }
  const socketCode = typeof code === 'string' ? code : (error.cause as { code?: unknown } | undefined)?.code;
  if (typeof socketCode === 'string') {
    if (NETWORK_CODES.has(socketCode)) return make('ADP_ERR_UNAVAILABLE', `server unreachable: ${message}`);
    if (TLS_TRUST_ERROR_CODES.has(socketCode)) {
      return make('ADP_ERR_AUTH', `TLS handshake refused (${socketCode}): ${message}`);
    }
  }
  return make('ADP_ERR_INTERNAL');
}

function fromApiCode(code: number, status: number, message: string, make: Make): AdapterError {
  switch (code) {
    case JS_ERR.STREAM_NOT_FOUND:
      return make('ADP_ERR_NO_DESTINATION');
    case JS_ERR.MESSAGE_TOO_LARGE:
      return make('ADP_ERR_TOO_LARGE');
    case JS_ERR.JETSTREAM_NOT_ENABLED_FOR_ACCOUNT:
      return make('ADP_ERR_AUTH', `JetStream is not enabled for this account: ${message}`);
    case JS_ERR.JETSTREAM_UNAVAILABLE:
      return make('ADP_ERR_UNAVAILABLE', `JetStream temporarily unavailable: ${message}`);
    case JS_ERR.JETSTREAM_INSUFFICIENT_RESOURCES:
    case JS_ERR.STREAM_INSUFFICIENT_RESOURCES:
    case JS_ERR.STREAM_STORE_FAILED:
      return make('ADP_ERR_BACKPRESSURE', `the stream cannot store it now: ${message}`);
    default:
      if (STORE_FULL.test(message)) return make('ADP_ERR_BACKPRESSURE', `the stream is full: ${message}`);
      if (status === 503) return make('ADP_ERR_UNAVAILABLE');
      // Wrong expected sequence or stream, a stream config conflict: a verdict on the request.
      if (status >= 400 && status < 500) return make('ADP_ERR_REJECTED');
      return make('ADP_ERR_INTERNAL');
  }
}

/** Codes that describe the connection going away rather than a verdict on the message. */
function isTransient(code: AdapterErrorCode): boolean {
  return code === 'ADP_ERR_UNAVAILABLE' || code === 'ADP_ERR_INTERNAL';
}
