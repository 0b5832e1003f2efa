/**
 * Node.js error codes every adapter's classify-error.ts needs to recognise, kept in one place so
 * the adapters agree on what they mean.
 */

/**
 * TLS trust failures: the peer's certificate (or our configuration of what to trust) is wrong.
 * Retrying will not help until the certificate or the config changes.
 */
export const TLS_TRUST_ERROR_CODES: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);
