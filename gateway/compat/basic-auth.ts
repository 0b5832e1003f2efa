/**
 * HTTP Basic credentials for the compatible APIs whose clients speak Basic (RabbitMQ management,
 * REST Proxy deployments behind Basic auth): the password is a pubgate API key (or JWT), handed to
 * the same auth policy as `Authorization: Bearer <password>`. Any other Authorization header is
 * passed through unchanged, so Bearer keeps working.
 */

export interface BasicCredential {
  readonly username: string;
  /** The credential in the form the auth policy reads: `Bearer <password>`. */
  readonly authorization: string;
}

export type AuthorizationOf =
  | { readonly kind: 'basic'; readonly credential: BasicCredential }
  | { readonly kind: 'other'; readonly authorization: string | undefined }
  /** Basic, but not decodable as `user:password`: refuse it as unauthenticated. */
  | { readonly kind: 'malformed'; readonly detail: string };

const BASIC = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i;

export function authorizationOf(header: string | undefined): AuthorizationOf {
  if (header === undefined || !/^basic\b/i.test(header.trimStart())) {
    return { kind: 'other', authorization: header };
  }
  const match = BASIC.exec(header.trim());
  if (!match) return { kind: 'malformed', detail: 'the Basic credentials are not valid base64' };
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'malformed', detail: 'the Basic credentials are not "user:password"' };
  const password = decoded.slice(colon + 1);
  if (!/^[\x21-\x7e]+$/.test(password)) {
    return { kind: 'malformed', detail: 'the Basic password must be a pubgate API key' };
  }
  return {
    kind: 'basic',
    credential: { username: decoded.slice(0, colon), authorization: `Bearer ${password}` },
  };
}
