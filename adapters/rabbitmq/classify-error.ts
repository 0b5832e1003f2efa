/**
 * The one place where amqplib's errors become AdapterErrors (house habit 2).
 *
 * What amqplib gives us to read, in order of preference:
 * - AMQP reply codes: an error raised because the server closed a channel or the connection carries
 *   the numeric reply code in `code` (404, 406, 320, ...). This is the main signal.
 * - Node socket errors carry a string `code` (ECONNREFUSED, ECONNRESET, ...).
 * - `IllegalOperationError` (by class): the channel or connection was already closed or closing when we
 *   called it, so nothing was sent.
 * - A few errors amqplib raises as plain `Error`s with no code. The handshake ones (wrong password,
 *   unknown vhost), the connect timeout and the heartbeat timeout are recognised by their message,
 *   because that is all amqplib 2.x gives us; each pattern is pinned by a unit test.
 */
import { AdapterError, TLS_TRUST_ERROR_CODES, type AdapterErrorCode } from '../core/index.js';

/** AMQP 0-9-1 reply codes, as amqplib's defs name them. */
export const AMQP_REPLY = {
  REPLY_SUCCESS: 200,
  CONTENT_TOO_LARGE: 311,
  NO_ROUTE: 312,
  NO_CONSUMERS: 313,
  CONNECTION_FORCED: 320,
  INVALID_PATH: 402,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  FRAME_ERROR: 501,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  CHANNEL_ERROR: 504,
  UNEXPECTED_FRAME: 505,
  RESOURCE_ERROR: 506,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const;

export interface ClassifyOptions {
  /**
   * The message had been written to the socket and was waiting for its confirm when this error
   * ended the channel or connection. Its fate is then unknown: the broker may have routed and
   * persisted it before the close. Transient causes become ADP_ERR_CONNECTION_LOST; definite ones keep
   * their code but are marked ambiguous.
   */
  readonly inFlight?: boolean;
}

/** Socket-level failures: the broker was not reachable or the TCP connection broke. */
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
  'ERR_STREAM_WRITE_AFTER_END',
]);

// amqplib 2.x handshake and liveness errors that carry no code (see lib/connection.js, lib/connect.js).
const HANDSHAKE_TERMINATED = /^Handshake terminated by server: (\d{3})/;
const OPEN_REFUSED = /^Expected ConnectionOpenOk; got <ConnectionClose/;
const SASL_MECHANISM = /^SASL mechanism .* is not provided by the server/;
const CONNECT_TIMEOUT = /^connect ETIMEDOUT$/;
const LIVENESS = /^(Heartbeat timeout|Unexpected close|Socket closed abruptly during opening handshake)$/;
// A 406 is also how RabbitMQ refuses a message over its max_message_size (it closes the channel).
const MESSAGE_TOO_LARGE = /larger than configured max size/;

export function classifyAmqpError(error: unknown, options: ClassifyOptions = {}): AdapterError {
  if (error instanceof AdapterError) return error;
  const inFlight = options.inFlight ?? false;
  const message = error instanceof Error ? error.message : String(error);
  const make = (code: AdapterErrorCode, text = message): AdapterError => {
    if (inFlight && isTransient(code)) {
      return new AdapterError('ADP_ERR_CONNECTION_LOST', `connection lost before the confirm: ${text}`, {
        cause: error,
      });
    }
    return new AdapterError(code, text, { cause: error, ...(inFlight ? { ambiguous: true } : {}) });
  };

  if (!(error instanceof Error)) return make('ADP_ERR_INTERNAL', `non-Error thrown by amqplib: ${message}`);

  // Raised synchronously by amqplib when we use a channel/connection that is closed or closing.
  // Nothing reached the socket.
  if (error.name === 'IllegalOperationError')
    return make('ADP_ERR_UNAVAILABLE', `channel not open: ${message}`);

  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code === 'number') return fromReplyCode(code, message, make);
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return make('ADP_ERR_UNAVAILABLE', `broker unreachable: ${message}`);
    if (TLS_TRUST_ERROR_CODES.has(code))
      return make('ADP_ERR_AUTH', `TLS handshake refused (${code}): ${message}`);
  }

  const handshake = HANDSHAKE_TERMINATED.exec(message);
  if (handshake) return fromReplyCode(Number(handshake[1]), message, make);
  if (OPEN_REFUSED.test(message)) {
    // The server answered connection.open with connection.close: the vhost does not exist or the
    // user has no permission on it. amqplib drops the reply code here, so say both.
    return make(
      'ADP_ERR_AUTH',
      'the broker refused to open the virtual host (it does not exist, or the user may not access it)',
    );
  }
  if (SASL_MECHANISM.test(message)) return make('ADP_ERR_AUTH', message);
  if (CONNECT_TIMEOUT.test(message)) return make('ADP_ERR_UNAVAILABLE', `broker unreachable: ${message}`);
  if (LIVENESS.test(message)) return make('ADP_ERR_UNAVAILABLE', `connection lost: ${message}`);

  // amqplib 2.3.1+ throws a RangeError from publish() when the encoded headers table exceeds its
  // 64 KiB encoding buffer. Thrown before anything is written.
  if (error instanceof RangeError)
    return make('ADP_ERR_TOO_LARGE', `message headers too large to encode: ${message}`);

  return make('ADP_ERR_INTERNAL');
}

function fromReplyCode(
  replyCode: number,
  message: string,
  make: (code: AdapterErrorCode, text?: string) => AdapterError,
): AdapterError {
  switch (replyCode) {
    case AMQP_REPLY.CONTENT_TOO_LARGE:
      return make('ADP_ERR_TOO_LARGE');
    case AMQP_REPLY.NO_ROUTE:
    case AMQP_REPLY.NO_CONSUMERS:
      return make('ADP_ERR_UNROUTABLE');
    case AMQP_REPLY.REPLY_SUCCESS: // we (or a peer of ours) closed it normally
    case AMQP_REPLY.CONNECTION_FORCED: // broker shutting down, or an operator closed the connection
      return make('ADP_ERR_UNAVAILABLE', `connection closed by the broker: ${message}`);
    case AMQP_REPLY.ACCESS_REFUSED: // wrong credentials, or no write/configure permission
    case AMQP_REPLY.NOT_ALLOWED: // vhost not found / not permitted
    case AMQP_REPLY.INVALID_PATH:
      return make('ADP_ERR_AUTH');
    case AMQP_REPLY.NOT_FOUND: // the exchange does not exist
      return make('ADP_ERR_NO_DESTINATION');
    case AMQP_REPLY.PRECONDITION_FAILED:
      // Over max_message_size, or an exchange redeclared with another type/durability (a config error).
      return MESSAGE_TOO_LARGE.test(message) ? make('ADP_ERR_TOO_LARGE') : make('ADP_ERR_REJECTED');
    case AMQP_REPLY.RESOURCE_LOCKED:
      return make('ADP_ERR_UNAVAILABLE');
    case AMQP_REPLY.RESOURCE_ERROR: // the server is short of a resource (e.g. channels, memory)
      return make('ADP_ERR_BACKPRESSURE');
    default:
      // Protocol errors (501-505, 540, 541) and codes we do not know: a fresh channel usually clears them.
      return make('ADP_ERR_INTERNAL');
  }
}

/** Codes that describe the connection going away rather than a verdict on the message. */
function isTransient(code: AdapterErrorCode): boolean {
  return code === 'ADP_ERR_UNAVAILABLE' || code === 'ADP_ERR_INTERNAL' || code === 'ADP_ERR_BACKPRESSURE';
}
