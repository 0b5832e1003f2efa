import type { AdapterError, AdapterErrorCode } from '../../adapters/core/index.js';
import { GatewayError, type GatewayErrorCode } from './registry.js';

/** How each adapter failure reaches the caller. One table, read by every publish path. */
const ADAPTER_TO_GATEWAY: Record<AdapterErrorCode, GatewayErrorCode> = {
  ADP_ERR_UNAVAILABLE: 'GW_ERR_BROKER_UNAVAILABLE',
  ADP_ERR_BACKPRESSURE: 'GW_ERR_BROKER_UNAVAILABLE',
  ADP_ERR_TIMEOUT: 'GW_ERR_BROKER_TIMEOUT',
  ADP_ERR_CONNECTION_LOST: 'GW_ERR_BROKER_TIMEOUT',
  ADP_ERR_ABORTED: 'GW_ERR_BROKER_TIMEOUT',
  ADP_ERR_INTERNAL: 'GW_ERR_BROKER_TIMEOUT',
  ADP_ERR_REJECTED: 'GW_ERR_BROKER_REJECTED',
  ADP_ERR_AUTH: 'GW_ERR_BROKER_REJECTED',
  ADP_ERR_CLOSED: 'GW_ERR_SHUTTING_DOWN',
  ADP_ERR_UNROUTABLE: 'GW_ERR_UNROUTABLE',
  ADP_ERR_TOO_LARGE: 'GW_ERR_MESSAGE_TOO_LARGE',
  ADP_ERR_INVALID_DESTINATION: 'GW_ERR_INVALID_TOPIC',
  ADP_ERR_NO_DESTINATION: 'GW_ERR_NO_DESTINATION',
};

export function gatewayErrorFromAdapter(
  error: AdapterError,
  target: string,
  retryAfterSeconds: number,
): GatewayError {
  const code = ADAPTER_TO_GATEWAY[error.code];
  const hint = error.ambiguous
    ? ' The broker may have the message; retry with the same Message-Id so consumers can drop the duplicate.'
    : '';
  return new GatewayError(code, `target ${target}: ${error.message}.${hint}`, {
    cause: error,
    ...(error.retriable ? { retryAfterSeconds } : {}),
  });
}
