/** Route strategies, degrade modes and circuit breaker options: accepted shapes and loud refusals. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRouter } from '../routing.js';
import { breakerOptions } from '../publish/breakers.js';
import { configSchema } from './schema.js';

const brokers = {
  a: { kind: 'embedded', dir: './a' },
  b: { kind: 'embedded', dir: './b' },
  c: { kind: 'embedded', dir: './c' },
};
const tenants = { t: { keys: ['k'], topics: ['**'] } };

function parse(route: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return configSchema.safeParse({ brokers, tenants, routes: [{ topic: '**', ...route }], ...extra });
}

function errors(result: ReturnType<typeof parse>): string {
  assert.equal(result.success, false, 'expected the config to be refused');
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');
}

describe('route strategies', () => {
  it('accepts each strategy and builds its selector', () => {
    for (const route of [
      { target: 'a' },
      { failover: ['a', 'b'], degrade: 'failover' },
      { split: { a: 90, b: 10 } },
      { split: { a: 90, b: 10 }, degrade: 'failover' },
      { mirror: { primary: 'a', secondaries: ['b', 'c'] } },
      { balance: { targets: ['a', 'b'] } },
      { balance: { mode: 'weighted', targets: { a: 2, b: 1 } } },
      { balance: { mode: 'key-hash', targets: ['a', 'b', 'c'] }, degrade: 'spool' },
    ]) {
      const result = parse(route);
      assert.ok(result.success, `${JSON.stringify(route)}: ${result.error?.message}`);
      const resolved = createRouter(result.data.routes).resolve('x.y')!;
      assert.equal(resolved.target, route.target ?? resolved.candidates[0]);
      assert.equal(resolved.route.degrade, route.degrade ?? 'reject');
    }
    const mirror = createRouter(parse({ mirror: { primary: 'b', secondaries: ['a'] } }).data!.routes);
    assert.deepEqual(mirror.resolve('x')!.candidates, ['b']);
    assert.deepEqual(mirror.resolve('x')!.selector.choose(undefined).mirrors, ['a']);
  });

  it('degrade failover on a split lists the other targets after the chosen one', () => {
    const routes = parse({ split: { a: 1, b: 1, c: 1 }, degrade: 'failover' }).data!.routes;
    const { candidates } = createRouter(routes).resolve('x')!.selector.choose('some-key');
    assert.deepEqual([...candidates].sort(), ['a', 'b', 'c']);
  });

  it('refuses none or several strategies, unknown or repeated targets, bad weights', () => {
    assert.match(errors(parse({})), /needs one of target, failover, split, mirror or balance/);
    assert.match(errors(parse({ target: 'a', split: { a: 1, b: 1 } })), /exactly one of .*target, split/);
    assert.match(errors(parse({ target: 'nope' })), /routes\.0\.target: unknown broker target "nope"/);
    assert.match(
      errors(parse({ failover: ['a', 'zz'], degrade: 'failover' })),
      /failover\.1: unknown broker target "zz"/,
    );
    assert.match(errors(parse({ split: { a: 90, b: 0 } })), /greater than 0/);
    assert.match(errors(parse({ split: { a: 90 } })), /at least two targets/);
    assert.match(errors(parse({ mirror: { primary: 'a', secondaries: ['a'] } })), /named twice/);
    assert.match(errors(parse({ balance: { mode: 'fastest', targets: ['a', 'b'] } })), /balance\.mode/);
    assert.match(errors(parse({ target: 'a', extra: 1 })), /extra/);
  });

  it('refuses a degrade mode that does not fit the strategy', () => {
    assert.match(errors(parse({ failover: ['a', 'b'] })), /only used with `degrade: failover`/);
    assert.match(errors(parse({ target: 'a', degrade: 'failover' })), /needs another target/);
    assert.match(
      errors(parse({ mirror: { primary: 'a', secondaries: ['b'] }, degrade: 'failover' })),
      /needs another target/,
    );
    assert.match(errors(parse({ target: 'a', degrade: 'drop' })), /degrade/);
  });
});

describe('breaker options', () => {
  it('defaults, per-target overrides on top of the default', () => {
    const result = parse(
      { target: 'a' },
      {
        breakers: {
          default: { volumeThreshold: 5 },
          targets: { b: { resetTimeoutMs: 100, enabled: false } },
        },
      },
    );
    assert.ok(result.success, result.error?.message);
    const options = breakerOptions(result.data.breakers, ['a', 'b']);
    assert.deepEqual(options.a, {
      enabled: true,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      rollingWindowMs: 10_000,
      rollingBuckets: 10,
      resetTimeoutMs: 5_000,
    });
    assert.equal(options.b!.resetTimeoutMs, 100);
    assert.equal(options.b!.enabled, false);
    assert.equal(options.b!.volumeThreshold, 5);
  });

  it('refuses unknown targets and options, and buckets that do not divide the window', () => {
    assert.match(
      errors(parse({ target: 'a' }, { breakers: { targets: { nope: {} } } })),
      /breakers\.targets\.nope: unknown broker target/,
    );
    assert.match(errors(parse({ target: 'a' }, { breakers: { default: { threshold: 1 } } })), /threshold/);
    assert.match(
      errors(parse({ target: 'a' }, { breakers: { default: { rollingWindowMs: 1000, rollingBuckets: 7 } } })),
      /must divide/,
    );
    assert.match(
      errors(parse({ target: 'a' }, { breakers: { default: { errorThresholdPercentage: 0 } } })),
      /errorThresholdPercentage/,
    );
  });
});
