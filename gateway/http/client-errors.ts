/**
 * Answers for requests refused before they reach the app: what Node's HTTP parser rejects
 * (smuggling shapes, malformed or repeated Content-Length, obs-folded or malformed header lines,
 * heads over server.maxHeaderSize, unknown methods), requests that take longer than the server's
 * timeouts, CONNECT, an Expect other than 100-continue, and too many header fields. Each gets an
 * application/problem+json answer with a stable code, like every other error, and its connection
 * is closed: after a framing error nothing later on that connection can be trusted.
 *
 * Node's own answers here are bare (an empty 400, or a silent close for CONNECT), and its timeout
 * checks run every 30 s by default, so a 10 s headers timeout cut connections after up to 40 s;
 * serverOptions() checks every CONNECTIONS_CHECK_INTERVAL_MS instead.
 */
import {
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../adapters/core/index.js';
import type { ServerConfig } from '../config/schema.js';
import { GatewayError, toProblem } from '../errors/registry.js';
import { watchChunkedBodies, watchRequest } from './chunk-watch.js';
import { PROBLEM_JSON } from './problem.js';

/**
 * How often Node looks for connections past headersTimeoutMs or requestTimeoutMs: the timeouts
 * hold to within this. The check walks the open requests in C++; twice a second costs nothing.
 */
export const CONNECTIONS_CHECK_INTERVAL_MS = 500;

/**
 * After answering, how long a connection stays half-open (our side finished, reading stopped)
 * before it is destroyed: closing at once, with the client's unread bytes still queued, sends a
 * reset that can destroy the answer before the client reads it.
 */
const LINGER_MS = 1_000;

/** The options Node only takes at creation. */
export function serverOptions(config: ServerConfig): ServerOptions {
  return {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    maxHeaderSize: config.maxHeaderSize,
    connectionsCheckingInterval: CONNECTIONS_CHECK_INTERVAL_MS,
    // Checked in screenRequest, to answer problem+json rather than Node's bare 400.
    requireHostHeader: false,
  };
}

/** Applies the server settings a reload may change (the header size: for new connections). */
export function applyServerConfig(server: Server, config: ServerConfig): void {
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  // Node drops the fields past maxHeadersCount without a word; one more than allowed lets
  // screenRequest see that there were too many.
  server.maxHeadersCount = config.maxHeadersCount + 1;
  (server as Server & { maxHeaderSize?: number }).maxHeaderSize = config.maxHeaderSize;
}

/** Installs the answers for what never becomes an app request, and the chunked-body watcher. */
export function installClientErrorAnswers(server: Server, logger: Logger): void {
  server.on('clientError', (error: ParserError, socket: Duplex) => {
    const problem = parserProblem(error, server);
    logger.debug({ err: error, code: error.code }, 'client error on connection');
    if (problem === undefined || !canAnswer(socket)) socket.destroy();
    else answerOnSocket(socket, problem);
  });
  // Without a listener Node closes a CONNECT without a word.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    answerOnSocket(
      socket,
      new GatewayError('GW_ERR_METHOD_NOT_IMPLEMENTED', 'CONNECT is not implemented: this is not a proxy'),
    );
  });
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    answer(
      res,
      new GatewayError(
        'GW_ERR_EXPECTATION_FAILED',
        'only "Expect: 100-continue" is supported; send the request without this Expect',
      ),
    );
  });
  watchChunkedBodies(server);
}

/**
 * The first thing the request listener calls. Refuses what Node lets through but the gateway must
 * not take: more header fields than server.maxHeadersCount (Node would have dropped the rest, and
 * a copied header with them), and an HTTP/1.1 request without exactly one Host. True when it
 * answered; otherwise a chunked request's declared sizes start being watched.
 */
export function screenRequest(req: IncomingMessage, res: ServerResponse, config: ServerConfig): boolean {
  const fields = req.rawHeaders.length / 2;
  if (fields > config.maxHeadersCount) {
    answer(
      res,
      new GatewayError(
        'GW_ERR_HEADERS_TOO_LARGE',
        `the request has more than ${config.maxHeadersCount} header fields`,
      ),
    );
    return true;
  }
  const hosts = countHeader(req.rawHeaders, 'host');
  if (hosts > 1 || (hosts === 0 && req.httpVersion === '1.1')) {
    const detail =
      hosts > 1 ? 'the request has more than one Host header' : 'an HTTP/1.1 request needs a Host header';
    answer(res, new GatewayError('GW_ERR_BAD_REQUEST', detail));
    return true;
  }
  watchRequest(req);
  return false;
}

type ParserError = Error & { code?: string; reason?: string; rawPacket?: Buffer };

/** A request line whose method is a well-formed token: an unknown method, not garbage. */
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}) \S+ HTTP\/\d\.\d\r\n/;

/** The answer to an error Node's HTTP server reports on a connection; undefined: just close. */
export function parserProblem(error: ParserError, server: Server): GatewayError | undefined {
  const code = error.code ?? '';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new GatewayError(
      'GW_ERR_REQUEST_TIMEOUT',
      `the request did not arrive in time: its headers must arrive within ${server.headersTimeout} ms of its first byte, all of it within ${server.requestTimeout} ms`,
    );
  }
  if (!code.startsWith('HPE_')) return undefined; // the connection failed (reset, broken pipe)
  if (code === 'HPE_HEADER_OVERFLOW') {
    const size = (server as Server & { maxHeaderSize?: number }).maxHeaderSize;
    return new GatewayError('GW_ERR_HEADERS_TOO_LARGE', `the request head is over ${size} bytes`);
  }
  if (code === 'HPE_INVALID_METHOD') {
    const method = REQUEST_LINE.exec(error.rawPacket?.toString('latin1') ?? '')?.[1];
    if (method !== undefined) {
      return new GatewayError('GW_ERR_METHOD_NOT_IMPLEMENTED', `method ${method} is not implemented`);
    }
  }
  const reason = error.reason ?? error.message;
  return new GatewayError('GW_ERR_BAD_REQUEST', `the HTTP parser refused the request: ${reason}`);
}

/**
 * Whether a raw answer can still go out: not once an app response has started on this
 * connection (it would corrupt it), nor twice (a broken parser may report again).
 */
function canAnswer(socket: Duplex): boolean {
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  return socket.writable && !answered.has(socket) && !(inFlight?.headersSent ?? false);
}

const answered = new WeakSet<Duplex>();

/** Writes a whole HTTP/1.1 problem answer on the socket, then closes it. */
function answerOnSocket(socket: Duplex, error: GatewayError): void {
  answered.add(socket);
  const body = JSON.stringify(toProblem(error, {}));
  const head = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}`,
    `Content-Type: ${PROBLEM_JSON}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(error.headers).map(([name, value]) => `${name}: ${value}`),
    '',
    '',
  ].join('\r\n');
  // Read nothing more: no further bytes may complete a request that has had its answer.
  socket.pause();
  socket.end(head + body);
  destroyAfterLinger(socket);
}

/**
 * For an answer given before the request was read to its end (413, a refused coding): Node closes
 * such a connection (Connection: close) with destroySoon, i.e. as soon as the answer is flushed.
 * The client may still be sending, and closing a socket with unread bytes sends a reset, which
 * makes the client's kernel drop the answer it has not read yet: the client sees "connection
 * reset" instead of the 413. So the socket is ended at once but destroyed only after LINGER_MS.
 */
export function lingerOnClose(socket: Duplex): void {
  (socket as Duplex & { destroySoon?: () => void }).destroySoon = () => {
    socket.end();
    destroyAfterLinger(socket);
  };
}

function destroyAfterLinger(socket: Duplex): void {
  // Not unref'd: a paused socket keeps nothing else alive, and it must still be closed.
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once('close', () => clearTimeout(timer));
}

/** The same answer through a response Node created (before the app saw the request). */
function answer(res: ServerResponse, error: GatewayError): void {
  const body = JSON.stringify(toProblem(error, {}));
  res.writeHead(error.status, {
    ...error.headers,
    'Content-Type': PROBLEM_JSON,
    'Content-Length': Buffer.byteLength(body),
    Connection: 'close',
  });
  res.end(body);
}

function countHeader(rawHeaders: readonly string[], name: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    if (field.length === name.length && field.toLowerCase() === name) count++;
  }
  return count;
}
