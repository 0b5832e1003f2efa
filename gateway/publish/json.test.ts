import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchValueSpans, jsonDepth, parseJsonBody } from './json.js';

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

describe('UTF-8 of JSON bodies', () => {
  const codeOf = (body: Uint8Array) => {
    const result = parseJsonBody(body, 8);
    return 'error' in result ? result.error.code : 'ok';
  };
  const withBytes = (...raw: number[]) =>
    Buffer.concat([Buffer.from('{"a":"'), Buffer.from(raw), Buffer.from('"}')]);

  it('refuses invalid UTF-8 anywhere, even inside a string', () => {
    assert.equal(codeOf(withBytes(0xff)), 'GW_ERR_INVALID_JSON');
    assert.equal(codeOf(withBytes(0x80)), 'GW_ERR_INVALID_JSON');
    assert.equal(codeOf(withBytes(0xed, 0xa0, 0x80)), 'GW_ERR_INVALID_JSON'); // encoded surrogate
    assert.equal(codeOf(withBytes(0xc0, 0xaf)), 'GW_ERR_INVALID_JSON'); // overlong
    assert.equal(codeOf(withBytes(0xf4, 0x90, 0x80, 0x80)), 'GW_ERR_INVALID_JSON'); // past U+10FFFF
  });

  it('accepts valid UTF-8 and lone-surrogate escapes (valid JSON text)', () => {
    assert.equal(codeOf(bytes('{"a":"ж😀","b":"\\ud800"}')), 'ok');
  });
});

describe('batchValueSpans', () => {
  /** The text of each messages[i].value span, or undefined. */
  const texts = (body: string) => {
    const encoded = bytes(body);
    return batchValueSpans(encoded)?.map((span) =>
      span === undefined ? undefined : Buffer.from(encoded.subarray(span.start, span.end)).toString('utf8'),
    );
  };

  it('returns the exact text of each value, without surrounding whitespace', () => {
    assert.deepEqual(
      texts(
        '{"messages":[{"value":  12345678901234567890 \n},{"value":1e999999},{"value":-0},{ "value" :0.1e1}]}',
      ),
      ['12345678901234567890', '1e999999', '-0', '0.1e1'],
    );
  });

  it('skips strings holding brackets, quotes and backslashes, and nested values', () => {
    assert.deepEqual(
      texts(
        '{"other":{"messages":[{"value":0}]},"messages":[{"key":"]}\\"\\\\","value":{"x":["}",{"value":1}]},"id":"i"},{"value":"a\\"b"}]}',
      ),
      ['{"x":["}",{"value":1}]}', '"a\\"b"'],
    );
  });

  it('like JSON.parse: the last duplicate wins, escaped names are the names they decode to', () => {
    assert.deepEqual(
      texts('{"messages":[{"value":1}],"messages":[{"value":2,"v\\u0061lue":3},{"valu\\u0065":[4]}]}'),
      ['3', '[4]'],
    );
    assert.equal(texts('{"messages":[{"value":1}],"messages":5}'), undefined);
  });

  it('gives byte offsets: multi-byte characters before a value do not shift it', () => {
    const body = '{"messages":[{"key":"ключ😀","value":"中文"},{"value":true}]}';
    assert.deepEqual(texts(body), ['"中文"', 'true']);
  });

  it('marks elements without a value, and bodies without a messages array', () => {
    assert.deepEqual(texts('{"messages":[{"valueBase64":"AA=="},7,{"value":null}]}'), [
      undefined,
      undefined,
      'null',
    ]);
    assert.deepEqual(texts('{"messages":[]}'), []);
    assert.equal(texts('{"x":1}'), undefined);
    assert.equal(texts('[1]'), undefined);
  });

  it('agrees with JSON.parse on every value of a generated batch', () => {
    const samples = [
      0,
      -0.0,
      1.5e-300,
      2 ** 60,
      'plain',
      'esc "\\ / \b\f\n\r\t',
      '\u2028\u2029',
      'ж😀',
      null,
      true,
      false,
      [],
      {},
      [1, [2, [3, { a: ['}', ']'] }]]],
      { 'k"}': 'v]' },
    ];
    for (const indent of [0, 2]) {
      const messages = samples.map((value, i) => ({ key: `k${i}]`, value, headers: { 'ce-x': '"}' } }));
      const body = JSON.stringify({ messages }, null, indent);
      const found = texts(body)!;
      assert.equal(found.length, samples.length);
      found.forEach((text, i) => assert.deepEqual(JSON.parse(text!), JSON.parse(body).messages[i].value));
    }
  });
});
