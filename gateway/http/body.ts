import type { Request } from 'express';
import getRawBody from 'raw-body';
import { GatewayError } from '../errors/registry.js';

/**
 * Reads the request body up to `limit` bytes. A declared Content-Length over the limit is refused
 * before reading; a chunked body is cut off as soon as it passes the limit. Either way 413, and the
 * connection is closed so the rest of an oversized upload is not read.
 */
export async function readBody(req: Request, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  try {
    return await getRawBody(req, { limit, ...(declared === undefined ? {} : { length: declared }) });
  } catch (error) {
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') {
      throw new GatewayError(
        'GW_ERR_BODY_TOO_LARGE',
        `the body is larger than this route's limit of ${limit} bytes`,
        {
          headers: { Connection: 'close' },
        },
      );
    }
    if (type === 'request.size.invalid') {
      throw new GatewayError('GW_ERR_BAD_REQUEST', 'the body length does not match Content-Length');
    }
    throw error;
  }
}
