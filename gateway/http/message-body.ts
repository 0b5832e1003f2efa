/**
 * How the API shows a stored message's payload in JSON: as text (`value`) when its content type is
 * JSON or text/*, as standard base64 (`valueBase64`) otherwise. One rule for the read API
 * (GET /v1/topics/{topic}/messages) and the dead-letter inspection (GET /admin/v1/dead-letters/{id}).
 */
import type { StoredMessage } from '../../adapters/core/index.js';
import { isJsonMediaType, parseMediaType } from '../publish/content-type.js';

/** `{ value }` (UTF-8 text) for JSON and text/* content types, `{ valueBase64 }` for the rest. */
export function payloadFields(
  contentType: string,
  payload: Uint8Array,
): { readonly value: string } | { readonly valueBase64: string } {
  const media = parseMediaType(contentType);
  const textual =
    media !== undefined && (isJsonMediaType(media.essence) || media.essence.startsWith('text/'));
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return textual ? { value: bytes.toString('utf8') } : { valueBase64: bytes.toString('base64') };
}

/** One message of a read page (GET /v1/topics/{topic}/messages). */
export function readBodyOf(message: StoredMessage) {
  return {
    offset: message.offset,
    id: message.id,
    ...(message.key === undefined ? {} : { key: message.key }),
    headers: message.headers,
    contentType: message.contentType,
    ...payloadFields(message.contentType, message.payload),
    timestamp: new Date(message.createdAt).toISOString(),
  };
}
