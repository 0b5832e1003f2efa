/**
 * Refuses a chunked body as soon as its chunk-size lines declare more than the route's limit,
 * instead of waiting for bytes that would be refused anyway (a client that declares a 4 GB chunk
 * and then trickles, or stops, would otherwise hold the request until requestTimeoutMs).
 *
 * Node's HTTP parser reads the socket in C++ and tells JavaScript nothing about chunk sizes. What
 * it does expose, cheaply, is a callback after each socket read (`parser[kOnExecute]`) during
 * which `parser.getCurrentBuffer()` returns that read's bytes (a copy). For a request with
 * Transfer-Encoding, those bytes are scanned for chunk-size lines; every other request costs one
 * extra function call per read. Measured on a bare Node POST loop (256-byte bodies, CPU per
 * request): Content-Length requests within noise (mean +1 %, runs -5..+10 %); chunked requests
 * about +15 % (some 5 µs, the copy and scan), well under 1 % of a publish through the gateway.
 * Reading the socket in JavaScript instead (any 'data' listener on it takes it from the C++
 * parser) cost every request 25-60 % on the same loop.
 *
 * It is deliberately partial, and never wrong in the direction that matters (a false 413):
 * - scanning starts only when the request's head arrived in one read that began with its request
 *   line (the usual case; a head split over reads, or a request pipelined behind another in the
 *   same read, is not watched, and only requestTimeoutMs bounds it);
 * - anything it does not understand stops the scan (Node's parser refuses such bodies itself);
 * - if this Node has no such hook (a future version), nothing is watched.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** Node's parser, as far as this module uses it (not a public API: checked before use). */
interface ParserHooks {
  getCurrentBuffer(): Buffer;
  [hook: number]: ((ret: unknown) => unknown) | undefined;
}

/** One connection's latest request with Transfer-Encoding (state per connection, none per request). */
interface Connection {
  req?: IncomingMessage;
  scanner?: ChunkScanner;
  /**
   * That request's line as sent, until the read that ended its head has been scanned (read at
   * once: the app rewrites req.url while routing).
   */
  requestLine?: string;
  /** Later reads carry more of its body: feed them to the scanner. */
  scanning: boolean;
}

const connections = new WeakMap<Socket, Connection>();
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Installs the watcher on `server`'s connections (on a Node without the parser hook, it watches
 * nothing). The request listener must call watchRequest(req) before anything else.
 */
export function watchChunkedBodies(server: Server): void {
  server.on('connection', (socket: Socket) => {
    const parser = (socket as Socket & { parser?: ParserHooks }).parser;
    const hook = (parser?.constructor as { kOnExecute?: unknown } | undefined)?.kOnExecute;
    if (!parser || typeof hook !== 'number' || typeof parser.getCurrentBuffer !== 'function') return;
    const original = parser[hook];
    if (typeof original !== 'function') return;
    const connection: Connection = { scanning: false };
    connections.set(socket, connection);
    parser[hook] = function (this: unknown, ret: unknown) {
      if (connection.requestLine !== undefined || connection.scanning) scanRead(connection, parser, ret);
      return original.call(this, ret);
    };
  });
}

/**
 * Starts watching `req` if it is chunked. Called synchronously from the request listener (a
 * second 'request' listener would cost every request an emit over a copied listener array): the
 * head was parsed during the read being executed, whose bytes are scanned right after.
 */
export function watchRequest(req: IncomingMessage): void {
  if (req.headers['transfer-encoding'] === undefined) return;
  const connection = connections.get(req.socket);
  if (connection === undefined) return;
  // Known at once: the app may reach the body before this read's bytes are scanned.
  connection.req = req;
  connection.scanner = new ChunkScanner();
  connection.requestLine = `${req.method} ${req.url} HTTP/`;
  connection.scanning = false;
}

/**
 * Calls `onOversize` (once, possibly at once) when the chunks `req` declares add up to more than
 * `limit` bytes. Returns the function that stops watching. Does nothing for an unwatched request.
 */
export function onDeclaredOversize(
  req: IncomingMessage,
  limit: number,
  onOversize: (declared: number) => void,
): () => void {
  const connection = connections.get(req.socket);
  const scanner = connection?.req === req ? connection.scanner : undefined;
  if (!scanner) return () => {};
  scanner.limit = limit;
  scanner.onOversize = onOversize;
  scanner.check();
  return () => {
    scanner.onOversize = undefined;
  };
}

function scanRead(connection: Connection, parser: ParserHooks, ret: unknown): void {
  const scanner = connection.scanner!;
  const requestLine = connection.requestLine;
  connection.requestLine = undefined;
  if (ret instanceof Error) {
    connection.scanning = false;
    return scanner.stop();
  }
  const bytes = parser.getCurrentBuffer();
  if (requestLine === undefined) scanner.feed(bytes, 0);
  else {
    const start = bodyStart(bytes, requestLine);
    if (start < 0) return scanner.stop();
    scanner.feed(bytes, start);
  }
  connection.scanning = !scanner.finished;
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * Where the body starts in `bytes`, or -1 unless the read begins with the request line (after
 * the empty lines a parser skips): then the first blank line ends its head, which cannot contain
 * one. Anything else (a head split over reads, a request behind another) is not guessed at.
 */
function bodyStart(bytes: Buffer, requestLine: string): number {
  let at = 0;
  while (bytes[at] === CR || bytes[at] === LF) at++;
  if (bytes.length < at + requestLine.length) return -1;
  for (let i = 0; i < requestLine.length; i++) {
    if (bytes[at + i] !== requestLine.charCodeAt(i)) return -1;
  }
  const end = bytes.indexOf(HEAD_END, at);
  return end < 0 ? -1 : end + HEAD_END.length;
}

type ScanState = 'size' | 'extension' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'stopped';

/** Follows chunked framing (RFC 9112 §7.1) just far enough to add up the declared chunk sizes. */
export class ChunkScanner {
  /** Sum of the chunk sizes declared so far. */
  declared = 0;
  limit = Infinity;
  onOversize: ((declared: number) => void) | undefined;
  private state: ScanState = 'size';
  private size = 0;
  private digits = 0;
  private remaining = 0;

  /** The last chunk was seen, or the framing was not understood: nothing more to learn. */
  get finished(): boolean {
    return this.state === 'stopped';
  }

  feed(bytes: Buffer, from: number): void {
    let at = from;
    while (at < bytes.length && this.state !== 'stopped') {
      if (this.state === 'data') {
        const skip = Math.min(this.remaining, bytes.length - at);
        this.remaining -= skip;
        at += skip;
        if (this.remaining === 0) this.state = 'data-cr';
        continue;
      }
      this.step(bytes[at]!);
      at++;
    }
  }

  check(): void {
    if (this.declared > this.limit && this.onOversize) {
      const notify = this.onOversize;
      this.onOversize = undefined;
      notify(this.declared);
    }
  }

  private step(byte: number): void {
    switch (this.state) {
      case 'size':
        return this.sizeByte(byte);
      case 'extension':
        if (byte === CR) this.state = 'size-lf';
        return;
      case 'size-lf':
        return byte === LF ? this.chunkDeclared() : this.stop();
      case 'data-cr':
        if (byte !== CR) return this.stop();
        this.state = 'data-lf';
        return;
      case 'data-lf':
        if (byte !== LF) return this.stop();
        this.state = 'size';
        this.size = 0;
        this.digits = 0;
        return;
      default:
        return;
    }
  }

  private sizeByte(byte: number): void {
    const digit = hexValue(byte);
    if (digit >= 0) {
      // Past 2^53 the exact value no longer matters: it is over any limit.
      this.size = Math.min(this.size * 16 + digit, Number.MAX_SAFE_INTEGER);
      this.digits++;
    } else if (this.digits > 0 && byte === CR) this.state = 'size-lf';
    else if (this.digits > 0 && (byte === 0x3b || byte === 0x20 || byte === 0x09)) this.state = 'extension';
    else this.stop();
  }

  private chunkDeclared(): void {
    if (this.size === 0) return this.stop(); // the last chunk: trailers follow, nothing to add
    this.declared = Math.min(this.declared + this.size, Number.MAX_SAFE_INTEGER);
    this.remaining = this.size;
    this.state = 'data';
    this.check();
  }

  stop(): void {
    this.state = 'stopped';
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}
