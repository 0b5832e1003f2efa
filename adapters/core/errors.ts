/**
 * Every failure an adapter reports is an AdapterError. Each adapter maps its client library's errors
 * onto these codes in exactly one place (its `classify-error.ts`); the reliability layer and the
 * gateway read only `code`, `retriable` and `ambiguous`, never error messages.
 */
export const ADAPTER_ERROR_CODES = {
  /** The broker cannot be reached, or the adapter is still (re)connecting. Nothing was written. */
  ADP_ERR_UNAVAILABLE: { retriable: true, ambiguous: false },
  /** No confirm arrived in time: the broker may or may not have the message. */
  ADP_ERR_TIMEOUT: { retriable: true, ambiguous: true },
  /** The connection died after the message was sent and before its confirm. */
  ADP_ERR_CONNECTION_LOST: { retriable: true, ambiguous: true },
  /** The broker is alive but refuses writes for now (disk or memory alarm, throttling, not leader). */
  ADP_ERR_BACKPRESSURE: { retriable: true, ambiguous: false },
  /** The broker refused the message for good (e.g. a negative publisher confirm, a topic of another message type). */
  ADP_ERR_REJECTED: { retriable: false, ambiguous: false },
  /** The message was returned as unroutable: no queue or subscriber would receive it. */
  ADP_ERR_UNROUTABLE: { retriable: false, ambiguous: false },
  /** The message is bigger than the broker accepts. Detected before sending where possible. */
  ADP_ERR_TOO_LARGE: { retriable: false, ambiguous: false },
  /**
   * The destination (topic, exchange, stream) does not exist on the broker and the target does not
   * create it. Final until someone creates it: retrying the same message cannot help.
   */
  ADP_ERR_NO_DESTINATION: { retriable: false, ambiguous: false },
  /** The destination name is not valid for this broker. */
  ADP_ERR_INVALID_DESTINATION: { retriable: false, ambiguous: false },
  /** The broker refused our credentials or permissions. Retrying will not help until config changes. */
  ADP_ERR_AUTH: { retriable: false, ambiguous: false },
  /** The caller's AbortSignal fired before the broker answered. May have been written. */
  ADP_ERR_ABORTED: { retriable: true, ambiguous: true },
  /** The adapter was closed; it will not publish again. */
  ADP_ERR_CLOSED: { retriable: false, ambiguous: false },
  /** Anything the adapter could not classify. Treated as ambiguous to stay on the safe side. */
  ADP_ERR_INTERNAL: { retriable: true, ambiguous: true },
} as const satisfies Record<string, { retriable: boolean; ambiguous: boolean }>;

export type AdapterErrorCode = keyof typeof ADAPTER_ERROR_CODES;

export interface AdapterErrorOptions {
  cause?: unknown;
  /** Override the code's default, e.g. a timeout before anything was sent is not ambiguous. */
  retriable?: boolean;
  ambiguous?: boolean;
}

export class AdapterError extends Error {
  override readonly name = 'AdapterError';
  readonly code: AdapterErrorCode;
  /** Publishing the same message again may succeed. */
  readonly retriable: boolean;
  /** The broker may already have the message; a retry may duplicate it (same id, detectable). */
  readonly ambiguous: boolean;

  constructor(code: AdapterErrorCode, message: string, options: AdapterErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? ADAPTER_ERROR_CODES[code].retriable;
    this.ambiguous = options.ambiguous ?? ADAPTER_ERROR_CODES[code].ambiguous;
  }

  static is(value: unknown): value is AdapterError {
    return value instanceof AdapterError;
  }
}

/** Wraps anything thrown into an AdapterError, keeping AdapterErrors as they are. */
export function toAdapterError(
  error: unknown,
  fallback: AdapterErrorCode = 'ADP_ERR_INTERNAL',
): AdapterError {
  if (error instanceof AdapterError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AdapterError(fallback, message, { cause: error });
}
