import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS } from '../config/schema.js';
import { checkHeaders, checkMessageKey } from './validation.js';

const limits = DEFAULT_LIMITS;

const codeOf = (result: ReturnType<typeof checkHeaders>) => ('error' in result ? result.error.code : 'ok');

describe('message checks', () => {
  it('keeps names that Object.prototype also has, exactly and as own properties', () => {
    const headers = JSON.parse('{"constructor":"c","tostring":"t","hasownproperty":"h"}') as Record<
      string,
      unknown
    >;
    const result = checkHeaders(headers, limits);
    assert.ok('headers' in result);
    assert.deepEqual(result.headers, { constructor: 'c', tostring: 't', hasownproperty: 'h' });
    assert.ok(Object.hasOwn(result.headers, 'constructor'));
  });

  it('refuses a "__proto__" name (JSON.parse makes it an own property) instead of dropping it', () => {
    const headers = JSON.parse('{"__proto__":"x"}') as Record<string, unknown>;
    assert.equal(Object.keys(headers).length, 1);
    assert.equal(codeOf(checkHeaders(headers, limits)), 'GW_ERR_INVALID_HEADER');
  });

  it('still refuses a name given twice (case-insensitively)', () => {
    assert.equal(codeOf(checkHeaders({ 'ce-a': '1', 'CE-A': '2' }, limits)), 'GW_ERR_INVALID_HEADER');
  });

  it('refuses unpaired surrogates in header values and keys, keeps paired ones', () => {
    assert.equal(codeOf(checkHeaders({ 'ce-a': 'x\ud800' }, limits)), 'GW_ERR_INVALID_HEADER');
    assert.equal(codeOf(checkHeaders({ 'ce-a': '😀' }, limits)), 'ok');
    assert.equal(checkMessageKey('k\udc00', limits)?.code, 'GW_ERR_INVALID_MESSAGE_KEY');
    assert.equal(checkMessageKey('ключ😀', limits), undefined);
  });
});
