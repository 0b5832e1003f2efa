import { createHash, timingSafeEqual } from 'node:crypto';
import { PASS, reject, type Policy } from '../core/index.js';

export interface ApiKeyPolicyConfig {
  /** tenant name → its keys, each `sha256:<hex>` or the plaintext key (hashed here, once). */
  readonly tenants: Readonly<Record<string, { readonly keys: readonly string[] }>>;
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="pubgate"' };

/**
 * Authenticates `Authorization: Bearer <api key>`. Keys are kept only as SHA-256 digests; the
 * presented key is hashed and compared in constant time against every known digest, so neither
 * the key's length nor which tenant matched changes the time taken.
 */
export function createApiKeyPolicy(config: ApiKeyPolicyConfig): Policy {
  const entries: { digest: Buffer; tenant: string }[] = [];
  for (const [tenant, { keys }] of Object.entries(config.tenants)) {
    for (const key of keys) entries.push({ digest: digestOf(key), tenant });
  }
  return {
    name: 'auth',
    evaluate(context) {
      const header = context.authorization;
      if (header === undefined || header === '') {
        return reject('unauthenticated', 'an Authorization: Bearer <api key> header is required', CHALLENGE);
      }
      const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
      if (!match)
        return reject('unauthenticated', 'the Authorization header must be "Bearer <api key>"', CHALLENGE);
      const presented = sha256(match[1]!);
      let tenant: string | undefined;
      for (const entry of entries) {
        if (timingSafeEqual(entry.digest, presented) && tenant === undefined) tenant = entry.tenant;
      }
      if (tenant === undefined) {
        return reject('unauthenticated', 'the API key is not valid', {
          'WWW-Authenticate': 'Bearer realm="pubgate", error="invalid_token"',
        });
      }
      context.principal = { tenant, method: 'api-key' };
      return PASS;
    },
  };
}

function digestOf(configured: string): Buffer {
  return configured.startsWith('sha256:') ? Buffer.from(configured.slice(7), 'hex') : sha256(configured);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
