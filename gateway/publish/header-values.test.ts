import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeHeaderValue, isWellFormed, readCopiedHeaders, readHeader } from './header-values.js';

/** A header value as Node hands it over: one latin1 character per wire byte. */
const wire = (raw: Uint8Array | string) => Buffer.from(raw).toString('latin1');

describe('header values', () => {
  it('decodes the wire bytes as UTF-8, keeping every character (a BOM, ZWJ, RTL override)', () => {
    for (const text of ['plain ascii', 'ключ', 'ＡＢＣ', '👩\u200d💻', '\u202eabc', '\ufeffbom', '']) {
      assert.equal(decodeHeaderValue(wire(text)), text);
    }
  });

  it('refuses bytes that are not UTF-8, and characters that cannot be wire bytes', () => {
    for (const raw of [
      [0xff],
      [0x80],
      [0xed, 0xa0, 0x80],
      [0xc0, 0xaf],
      [0xe2, 0x82],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
    ]) {
      assert.equal(decodeHeaderValue(wire(Uint8Array.from(raw))), undefined, String(raw));
    }
    assert.equal(decodeHeaderValue('ж'), undefined); // U+0436 never comes from Node's parser
  });

  it('reads one header with its own error code', () => {
    assert.deepEqual(readHeader({}, 'message-key', 'GW_ERR_INVALID_MESSAGE_KEY'), { value: undefined });
    assert.deepEqual(
      readHeader({ 'message-key': [wire('ключ')] }, 'message-key', 'GW_ERR_INVALID_MESSAGE_KEY'),
      {
        value: 'ключ',
      },
    );
    const bad = readHeader({ 'message-key': ['\xff'] }, 'message-key', 'GW_ERR_INVALID_MESSAGE_KEY');
    assert.equal('error' in bad && bad.error.code, 'GW_ERR_INVALID_MESSAGE_KEY');
    const twice = readHeader({ 'message-id': ['a', 'b'] }, 'message-id', 'GW_ERR_INVALID_MESSAGE_ID');
    assert.equal('error' in twice && twice.error.code, 'GW_ERR_INVALID_MESSAGE_ID');
  });

  it('copies matching headers by name, ordinary names included', () => {
    const headers = Object.assign(Object.create(null) as Record<string, string[]>, {
      'ce-type': [wire('тип')],
      constructor: ['c'],
      ['__proto__']: ['p'],
      other: ['x'],
    });
    const copied = readCopiedHeaders(headers, ['ce-*', 'constructor', '__proto__']);
    assert.ok('headers' in copied);
    assert.deepEqual(Object.entries(copied.headers), [
      ['ce-type', 'тип'],
      ['constructor', 'c'],
      ['__proto__', 'p'],
    ]);
    const bad = readCopiedHeaders({ 'ce-type': ['\xc3'] }, ['ce-*']);
    assert.equal('error' in bad && bad.error.code, 'GW_ERR_INVALID_HEADER');
  });

  it('knows unpaired surrogates', () => {
    assert.equal(isWellFormed('a😀'), true);
    assert.equal(isWellFormed('a\ud800'), false);
    assert.equal(isWellFormed('\udc00a'), false);
  });
});
