/**
 * Reading a request body: bounded, and decoded when it carries a Content-Encoding the route
 * accepts, so the broker stores the bytes the client meant, never a compressed form nothing on the
 * message would describe.
 */
import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate, type Zlib } from 'node:zlib';
import type { Transform } from 'node:stream';
import { CONTENT_CODINGS } from '../config/schema.js';
import { GatewayError } from '../errors/registry.js';
import { onDeclaredOversize } from './chunk-watch.js';
import { lingerOnClose } from './client-errors.js';

type ContentCoding = (typeof CONTENT_CODINGS)[number];
type Coding = ContentCoding | 'identity';

/** RFC 9110 §8.4.1.3: x-gzip is gzip. */
const ALIASES: Readonly<Record<string, Coding>> = { 'x-gzip': 'gzip' };

/**
 * Reads the request body, decoding its Content-Encoding when `encodings` (the route's
 * `contentEncodings`) lists it; a body without one is always read. `limit` bounds the bytes
 * received and, for an encoded body, the decoded bytes too: a declared Content-Length over it, a
 * chunked body that declares or sends more, or a decoder that produces more (a decompression bomb
 * stops after `limit` bytes of output) → 413, and the connection is closed so the rest of the
 * upload is not read. Decoding streams: memory stays around `limit` whatever the ratio.
 */
export async function readBody(
  req: IncomingMessage,
  limit: number,
  encodings: readonly string[] = [],
): Promise<Buffer> {
  const coding = requestCoding(req.headers['content-encoding'], encodings);
  const declared = req.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && length > limit) {
    lingerOnClose(req.socket);
    throw tooLarge(limit, `declares ${length} bytes`);
  }
  return collect(req, coding, limit, length);
}

/** The one coding the request uses ('identity' for none); 415 when the route does not decode it. */
export function requestCoding(header: string | undefined, encodings: readonly string[]): Coding {
  const named = (header ?? '')
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '' && token !== 'identity')
    .map((token) => ALIASES[token] ?? token);
  if (named.length === 0) return 'identity';
  const accepted = encodings.filter((coding) => coding !== 'identity');
  const acceptEncoding = [...accepted, 'identity'].join(', ');
  const refuse = (detail: string) =>
    new GatewayError('GW_ERR_UNSUPPORTED_ENCODING', detail, {
      headers: { 'Accept-Encoding': acceptEncoding },
    });
  if (named.length > 1) {
    throw refuse(
      `the body carries more than one content coding (${named.join(', ')}); send at most one of: ${acceptEncoding}`,
    );
  }
  const coding = named[0]!;
  if (!accepted.includes(coding)) {
    const why = (CONTENT_CODINGS as readonly string[]).includes(coding)
      ? 'is not accepted on this route'
      : 'is not supported';
    throw refuse(`Content-Encoding ${coding} ${why}; this route accepts ${acceptEncoding}`);
  }
  return coding as ContentCoding;
}

function createDecoder(coding: ContentCoding): Transform & Zlib {
  if (coding === 'gzip') return createGunzip();
  if (coding === 'deflate') return createInflate(); // RFC 9110 §8.4.1.2: the zlib format
  return createBrotliDecompress();
}

function tooLarge(limit: number, what: string): GatewayError {
  return new GatewayError(
    'GW_ERR_BODY_TOO_LARGE',
    `the body ${what}, more than this route's limit of ${limit} bytes`,
    { headers: { Connection: 'close' } },
  );
}

function closing(error: GatewayError): GatewayError {
  if (error.headers.Connection === 'close') return error;
  return new GatewayError(error.code, error.message, { headers: { ...error.headers, Connection: 'close' } });
}

function invalidEncoding(coding: Coding, reason: string): GatewayError {
  return new GatewayError('GW_ERR_INVALID_ENCODING', `the body is not valid ${coding} data: ${reason}`);
}

/**
 * Collects the body, through a decoder when it has a coding. Every way it can end — complete,
 * over the limit, undecodable, the client gone — settles the promise once and detaches.
 */
function collect(
  req: IncomingMessage,
  coding: Coding,
  limit: number,
  length: number | undefined,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const decoder = coding === 'identity' ? undefined : createDecoder(coding);
    const chunks: Buffer[] = [];
    let received = 0;
    let decoded = 0;
    let settled = false;
    let stopWatching = () => {};

    const settle = (error?: GatewayError) => {
      if (settled) return;
      settled = true;
      stopWatching();
      req.off('data', onData).off('end', onEnd).off('error', onAborted).off('close', onClose);
      if (error === undefined) return resolve(Buffer.concat(chunks, decoded));
      decoder?.destroy();
      if (req.complete) return reject(error);
      // Refused before its end: the rest of the upload is not read, so the connection cannot
      // carry another request; the answer closes it.
      req.pause();
      lingerOnClose(req.socket);
      reject(closing(error));
    };
    const onOutput = (chunk: Buffer) => {
      decoded += chunk.length;
      if (decoded > limit) {
        const what = decoder ? `decodes to more than ${limit} bytes` : `is over ${limit} bytes`;
        return settle(tooLarge(limit, what));
      }
      chunks.push(chunk);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return settle(tooLarge(limit, `is over ${limit} bytes`));
      if (!decoder) return onOutput(chunk);
      if (!decoder.write(chunk)) {
        req.pause();
        decoder.once('drain', () => {
          if (!settled) req.resume();
        });
      }
    };
    const onEnd = () => {
      if (length !== undefined && received !== length) {
        return settle(
          new GatewayError('GW_ERR_BAD_REQUEST', 'the body length does not match Content-Length'),
        );
      }
      if (decoder) decoder.end();
      else settle();
    };
    const onAborted = () =>
      settle(
        new GatewayError(
          'GW_ERR_BAD_REQUEST',
          'the client closed the connection before the body was complete',
        ),
      );
    const onClose = () => {
      if (!req.complete) onAborted();
    };

    if (decoder) {
      decoder.on('data', onOutput);
      decoder.on('error', (error: Error) => settle(invalidEncoding(coding, error.message)));
      decoder.on('end', () => {
        // Bytes after the end of the compressed stream would be dropped silently: refuse them.
        if (decoder.bytesWritten !== received) {
          return settle(invalidEncoding(coding, 'bytes follow the end of the compressed data'));
        }
        settle();
      });
    }
    req.on('data', onData).on('end', onEnd).on('error', onAborted).on('close', onClose);
    // Last: it may call back at once, when the chunks seen so far already declare too much.
    stopWatching = onDeclaredOversize(req, limit, (total) =>
      settle(tooLarge(limit, `declares chunks of ${total} bytes`)),
    );
  });
}
