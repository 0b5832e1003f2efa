import type { NextFunction, Request, Response } from 'express';
import { GatewayError, type GatewayErrorCode } from '../errors/registry.js';
import { sendProblem } from './problem.js';

/**
 * Headers a request may carry at most once, with the code a repeat is refused with. Node keeps
 * only the first Authorization or Content-Type in `req.headers` and joins repeated custom headers
 * with ", ", so without this check `Authorization: <valid>` + `Authorization: <invalid>` would pass
 * and two Message-Keys would become one key "a, b". Each header keeps the code of its other errors.
 */
const SINGLETONS: ReadonlyMap<string, GatewayErrorCode> = new Map([
  ['authorization', 'GW_ERR_BAD_REQUEST'],
  ['content-type', 'GW_ERR_BAD_REQUEST'],
  ['content-length', 'GW_ERR_BAD_REQUEST'],
  ['transfer-encoding', 'GW_ERR_BAD_REQUEST'],
  ['message-key', 'GW_ERR_INVALID_MESSAGE_KEY'],
  ['message-id', 'GW_ERR_INVALID_MESSAGE_ID'],
  ['idempotency-key', 'GW_ERR_IDEMPOTENCY_KEY_INVALID'],
]);

/** Where the body ends depends on these: after a repeat, the connection is not reused. */
const FRAMING = new Set(['content-length', 'transfer-encoding']);

/**
 * Refuses a request that repeats a singleton header with 400, before any route, policy or body
 * read. Node's parser already refuses most repeated Content-Length and Transfer-Encoding shapes;
 * this covers whatever reaches the app.
 */
export function refuseRepeatedSingletons(req: Request, res: Response, next: NextFunction): void {
  for (const [name, code] of SINGLETONS) {
    const count = req.headersDistinct[name]?.length ?? 0;
    if (count <= 1) continue;
    if (FRAMING.has(name)) res.setHeader('Connection', 'close');
    sendProblem(req, res, new GatewayError(code, `the ${name} header may be given only once; got ${count}`));
    return;
  }
  next();
}
