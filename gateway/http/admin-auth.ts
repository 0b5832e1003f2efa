import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { GatewayError } from '../errors/registry.js';
import { requestState } from './request-state.js';

/**
 * Middleware admitting only a request with `Authorization: Bearer <admin key>`; `keys` are
 * `sha256:<hex>` digests or plaintext. Every digest is compared (each in constant time), so timing
 * tells nothing about which key came close.
 */
export function createAdminAuth(keys: readonly string[]) {
  const digests = keys.map((key) =>
    key.startsWith('sha256:') ? Buffer.from(key.slice(7), 'hex') : createHash('sha256').update(key).digest(),
  );
  return (req: Request, res: Response, next: NextFunction): void => {
    requestState(res).tenant = 'admin';
    const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const presented = createHash('sha256')
      .update(match ? match[1]! : '')
      .digest();
    let ok = false;
    for (const digest of digests) ok = timingSafeEqual(digest, presented) || ok;
    if (!match || !ok) {
      throw new GatewayError('GW_ERR_UNAUTHENTICATED', 'the admin API needs an admin key (Bearer)', {
        headers: { 'WWW-Authenticate': 'Bearer realm="pubgate-admin"' },
      });
    }
    next();
  };
}
