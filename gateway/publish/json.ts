import { GatewayError } from '../errors/registry.js';

/**
 * Parses a JSON body after checking its nesting depth with a linear scan, so a body nested
 * 10,000 deep is a 400 and never a deep recursion anywhere downstream.
 */
export function parseJsonBody(
  body: Uint8Array,
  maxDepth: number,
): { value: unknown } | { error: GatewayError } {
  if (body.byteLength === 0) {
    return { error: new GatewayError('GW_ERR_INVALID_JSON', 'the body is empty; a JSON value is required') };
  }
  const depth = jsonDepth(body, maxDepth);
  if (depth > maxDepth) {
    return {
      error: new GatewayError(
        'GW_ERR_JSON_TOO_DEEP',
        `the JSON body is nested deeper than ${maxDepth} levels`,
      ),
    };
  }
  try {
    return { value: JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) };
  } catch (error) {
    return {
      error: new GatewayError(
        'GW_ERR_INVALID_JSON',
        `the body is not valid JSON: ${(error as Error).message}`,
      ),
    };
  }
}

/** Deepest array/object nesting, counting brackets outside strings; stops once past `limit`. */
export function jsonDepth(body: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}
