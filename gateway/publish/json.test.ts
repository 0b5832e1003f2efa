import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDepth, parseJsonBody } from './json.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('JSON body checks', () => {
  it('measures nesting outside strings only', () => {
    assert.equal(jsonDepth(bytes('{"a":[1,{"b":2}]}'), 64), 3);
    assert.equal(jsonDepth(bytes('"[[[[{{{{"'), 64), 0);
    assert.equal(jsonDepth(bytes('["\\"[[["]'), 64), 1);
    assert.equal(jsonDepth(bytes('1'), 64), 0);
  });

  it('stops scanning once past the limit', () => {
    assert.equal(jsonDepth(bytes('['.repeat(100_000)), 10), 11);
  });

  it('returns coded errors for empty, malformed and too deep bodies', () => {
    const codeOf = (s: string) => {
      const result = parseJsonBody(bytes(s), 8);
      return 'error' in result ? result.error.code : 'ok';
    };
    assert.equal(codeOf(''), 'GW_ERR_INVALID_JSON');
    assert.equal(codeOf('{'), 'GW_ERR_INVALID_JSON');
    assert.equal(codeOf('[[[[[[[[[1]]]]]]]]]'), 'GW_ERR_JSON_TOO_DEEP');
    assert.equal(codeOf('{"ok":[1,2,3]}'), 'ok');
  });
});
