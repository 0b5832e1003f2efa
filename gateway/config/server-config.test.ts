/** The HTTP listener's limits and a route's content codings: defaults and loud refusals. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from './schema.js';

const base = {
  brokers: { a: { kind: 'embedded', dir: './a' } },
  tenants: { t: { keys: ['k'], topics: ['**'] } },
  routes: [{ topic: '**', target: 'a' }],
};

function parse(extra: Record<string, unknown>) {
  return configSchema.safeParse({ ...base, ...extra });
}

function errors(extra: Record<string, unknown>): string {
  const result = parse(extra);
  assert.equal(result.success, false, 'expected the config to be refused');
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

describe('server limits', () => {
  it('defaults: 16 KiB heads, 100 header fields, timeouts as documented', () => {
    const { server } = parse({}).data!;
    assert.equal(server.maxHeaderSize, 16_384);
    assert.equal(server.maxHeadersCount, 100);
    assert.equal(server.headersTimeoutMs, 10_000);
    assert.equal(server.requestTimeoutMs, 30_000);
  });

  it('takes small timeouts (tests and strict deployments)', () => {
    const result = parse({ server: { headersTimeoutMs: 500, requestTimeoutMs: 1000 } });
    assert.ok(result.success, result.error?.message);
  });

  it('refuses a headers timeout longer than the request timeout (Node would not start)', () => {
    assert.match(
      errors({ server: { headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 } }),
      /server\.headersTimeoutMs: must not exceed server\.requestTimeoutMs \(10000\)/,
    );
  });

  it('refuses a header count that leaves no room for the message headers the limits allow', () => {
    assert.match(
      errors({ server: { maxHeadersCount: 40 }, limits: { maxHeaders: 64 } }),
      /server\.maxHeadersCount: must exceed limits\.maxHeaders \(64\)/,
    );
    assert.match(errors({ server: { maxHeaderSize: 100 } }), /server\.maxHeaderSize/);
  });
});

describe('route content codings', () => {
  it('decode gzip, deflate and br by default; [] or [identity] refuse them all', () => {
    assert.deepEqual(parse({}).data!.routes[0]!.contentEncodings, ['gzip', 'deflate', 'br']);
    for (const contentEncodings of [[], ['identity'], ['br']]) {
      const result = parse({ routes: [{ topic: '**', target: 'a', contentEncodings }] });
      assert.deepEqual(result.data?.routes[0]!.contentEncodings, contentEncodings);
    }
  });

  it('refuses a coding it cannot decode', () => {
    assert.match(
      errors({ routes: [{ topic: '**', target: 'a', contentEncodings: ['zstd'] }] }),
      /routes\.0\.contentEncodings\.0/,
    );
  });
});
