import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { AdapterError } from '../core/index.js';
import { classifyError } from './classify-error.js';

function sqlite(code: string): Error {
  return new Database.SqliteError(`sqlite says ${code}`, code);
}

function systemError(code: string): Error {
  return Object.assign(new Error(`${code}: system error`), { code });
}

describe('classifyError (embedded)', () => {
  const cases: [string, Error, string, boolean, boolean][] = [
    // [name, error, code, retriable, ambiguous]
    ['busy', sqlite('SQLITE_BUSY'), 'ADP_ERR_BACKPRESSURE', true, false],
    ['busy snapshot (extended)', sqlite('SQLITE_BUSY_SNAPSHOT'), 'ADP_ERR_BACKPRESSURE', true, false],
    ['locked', sqlite('SQLITE_LOCKED'), 'ADP_ERR_BACKPRESSURE', true, false],
    ['disk full', sqlite('SQLITE_FULL'), 'ADP_ERR_UNAVAILABLE', true, false],
    ['I/O error', sqlite('SQLITE_IOERR'), 'ADP_ERR_UNAVAILABLE', true, true],
    ['fsync failed (extended)', sqlite('SQLITE_IOERR_FSYNC'), 'ADP_ERR_UNAVAILABLE', true, true],
    ['read-only', sqlite('SQLITE_READONLY'), 'ADP_ERR_UNAVAILABLE', true, false],
    [
      'read-only directory (extended)',
      sqlite('SQLITE_READONLY_DIRECTORY'),
      'ADP_ERR_UNAVAILABLE',
      true,
      false,
    ],
    ['cannot open', sqlite('SQLITE_CANTOPEN'), 'ADP_ERR_UNAVAILABLE', true, false],
    ['corrupt', sqlite('SQLITE_CORRUPT'), 'ADP_ERR_INTERNAL', true, true],
    ['constraint', sqlite('SQLITE_CONSTRAINT_UNIQUE'), 'ADP_ERR_INTERNAL', true, true],
    ['mkdir: permission', systemError('EACCES'), 'ADP_ERR_UNAVAILABLE', true, false],
    ['mkdir: read-only fs', systemError('EROFS'), 'ADP_ERR_UNAVAILABLE', true, false],
    ['mkdir: file in the way', systemError('ENOTDIR'), 'ADP_ERR_UNAVAILABLE', true, false],
    ['mkdir: disk full', systemError('ENOSPC'), 'ADP_ERR_UNAVAILABLE', true, false],
    ['unknown', new TypeError('boom'), 'ADP_ERR_INTERNAL', true, true],
  ];
  for (const [name, error, code, retriable, ambiguous] of cases) {
    it(`${name} -> ${code}`, () => {
      const classified = classifyError(error, 'append to /tmp/x.sqlite');
      assert.ok(classified instanceof AdapterError);
      assert.equal(classified.code, code);
      assert.equal(classified.retriable, retriable);
      assert.equal(classified.ambiguous, ambiguous);
      assert.equal(classified.cause, error);
      assert.match(classified.message, /^append to \/tmp\/x\.sqlite: /);
    });
  }

  it('keeps an AdapterError as it is and wraps non-Errors', () => {
    const original = new AdapterError('ADP_ERR_CLOSED', 'closed');
    assert.equal(classifyError(original, 'x'), original);
    const wrapped = classifyError('a string', 'ctx');
    assert.equal(wrapped.code, 'ADP_ERR_INTERNAL');
    assert.equal(wrapped.message, 'ctx: a string');
  });
});
