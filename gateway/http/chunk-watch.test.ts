import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { ChunkScanner, onDeclaredOversize } from './chunk-watch.js';

function scan(body: string, options: { byteByByte?: boolean; limit?: number } = {}) {
  const scanner = new ChunkScanner();
  const calls: number[] = [];
  scanner.limit = options.limit ?? Infinity;
  scanner.onOversize = (declared) => calls.push(declared);
  const bytes = Buffer.from(body, 'latin1');
  if (options.byteByByte) for (let i = 0; i < bytes.length; i++) scanner.feed(bytes.subarray(i, i + 1), 0);
  else scanner.feed(bytes, 0);
  return { scanner, calls };
}

describe('ChunkScanner', () => {
  const body = '5\r\nhello\r\n1a;name="v"\r\n' + 'x'.repeat(26) + '\r\n0\r\nTrailer: t\r\n\r\n';

  it('adds up the declared chunk sizes and stops at the last chunk', () => {
    const { scanner } = scan(body);
    assert.equal(scanner.declared, 5 + 26);
    assert.equal(scanner.finished, true);
  });

  it('gives the same sum however the bytes are split', () => {
    const { scanner } = scan(body, { byteByByte: true });
    assert.equal(scanner.declared, 31);
    assert.equal(scanner.finished, true);
  });

  it('does not read chunk data as framing', () => {
    // Data that looks like a size line must be skipped, not parsed.
    const { scanner } = scan('6\r\nFFFF\r\n\r\n2\r\nab\r\n');
    assert.equal(scanner.declared, 8);
    assert.equal(scanner.finished, false);
  });

  it('reports once, as soon as the declared total passes the limit (before any data)', () => {
    const { calls } = scan('400\r\n' + 'a'.repeat(0x400) + '\r\n1\r\n', { limit: 1024 });
    assert.deepEqual(calls, [1025]);
    const huge = scan('FFFFFFFFFFFFFFFFFFFF\r\n', { limit: 1024 });
    assert.deepEqual(huge.calls, [Number.MAX_SAFE_INTEGER]);
  });

  it('reports a total already over a limit set later', () => {
    const { scanner } = scan('800\r\n');
    const calls: number[] = [];
    scanner.limit = 1024;
    scanner.onOversize = (declared) => calls.push(declared);
    scanner.check();
    scanner.check();
    assert.deepEqual(calls, [2048]);
  });

  for (const [label, text] of [
    ['a non-hex size', 'zz\r\n'],
    ['a size line without LF', '5\rX'],
    ['data not followed by CRLF', '2\r\nabX'],
    ['an empty size', '\r\n'],
  ] as const) {
    it(`stops at ${label} (Node's parser refuses it anyway)`, () => {
      const { scanner } = scan(text + '9999999\r\n', { limit: 10 });
      assert.equal(scanner.finished, true);
      assert.ok(scanner.declared <= 5);
    });
  }

  it('an unwatched request: onDeclaredOversize does nothing', () => {
    const stop = onDeclaredOversize({} as IncomingMessage, 1, () => assert.fail('not watched'));
    stop();
  });
});
