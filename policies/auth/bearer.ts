import type { Rejection } from '../core/index.js';

/** The challenge every 401 carries (RFC 6750). */
export const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="pubgate"' };
/** The challenge when a credential was presented but is not valid. */
export const INVALID_TOKEN = { 'WWW-Authenticate': 'Bearer realm="pubgate", error="invalid_token"' };

/** Bearer tokens are printable ASCII without spaces (RFC 6750 b64token, a little wider). */
const BEARER = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i;

/** Longest credential looked at; longer ones are refused before any hashing or parsing. */
export const MAX_TOKEN_LENGTH = 8192;

/** Extracts the token of `Authorization: Bearer <token>`, or the 401 to answer. */
export function bearerToken(header: string | undefined): { value: string } | { rejection: Rejection } {
  if (header === undefined || header === '') {
    return {
      rejection: {
        reason: 'unauthenticated',
        detail: 'an Authorization: Bearer <api key or JWT> header is required',
        headers: CHALLENGE,
      },
    };
  }
  const match = header.length <= MAX_TOKEN_LENGTH + 16 ? BEARER.exec(header) : null;
  if (!match) {
    return {
      rejection: {
        reason: 'unauthenticated',
        detail: 'the Authorization header must be "Bearer <api key or JWT>"',
        headers: CHALLENGE,
      },
    };
  }
  return { value: match[1]! };
}
