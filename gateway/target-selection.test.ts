import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTargetSelector, hashKey } from './target-selection.js';

/** Mulberry32: a small seeded generator, so the statistical cases are repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function tally(pick: (i: number) => string, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const target = pick(i);
    counts[target] = (counts[target] ?? 0) + 1;
  }
  return counts;
}

describe('target selection', () => {
  it('single, failover and mirror name their targets in order', () => {
    assert.deepEqual(createTargetSelector({ kind: 'single', target: 'a' }).choose('k'), {
      candidates: ['a'],
      mirrors: [],
    });
    assert.deepEqual(createTargetSelector({ kind: 'failover', targets: ['a', 'b', 'c'] }).choose(undefined), {
      candidates: ['a', 'b', 'c'],
      mirrors: [],
    });
    const mirror = createTargetSelector({ kind: 'mirror', primary: 'old', secondaries: ['new'] });
    assert.deepEqual(mirror.choose(undefined), { candidates: ['old'], mirrors: ['new'] });
    assert.deepEqual(mirror.targets, ['old', 'new']);
  });

  it('splits keyless messages by weight (90/10 over 1,000 messages within ±3 points)', () => {
    const selector = createTargetSelector(
      {
        kind: 'split',
        targets: [
          { target: 'main', weight: 90 },
          { target: 'canary', weight: 10 },
        ],
      },
      { random: seeded(7) },
    );
    const counts = tally(() => selector.choose(undefined).candidates[0]!, 1000);
    assert.ok(Math.abs(counts.canary! - 100) <= 30, JSON.stringify(counts));
    assert.equal(counts.main! + counts.canary!, 1000);
  });

  it('places a keyed message by its key: one key, one target; keys spread by weight', () => {
    const selector = createTargetSelector({
      kind: 'split',
      targets: [
        { target: 'main', weight: 75 },
        { target: 'canary', weight: 25 },
      ],
    });
    for (let i = 0; i < 50; i++) {
      const first = selector.choose(`order-${i}`).candidates[0];
      for (let j = 0; j < 5; j++) assert.equal(selector.choose(`order-${i}`).candidates[0], first);
    }
    const counts = tally((i) => selector.choose(`customer-${i}`).candidates[0]!, 4000);
    assert.ok(Math.abs(counts.canary! / 4000 - 0.25) <= 0.03, JSON.stringify(counts));
  });

  it('balances round robin, at random, by key hash and by weight', () => {
    const targets = [
      { target: 'k1', weight: 1 },
      { target: 'k2', weight: 1 },
      { target: 'k3', weight: 2 },
    ];
    const rr = createTargetSelector({ kind: 'balance', mode: 'round-robin', targets });
    assert.deepEqual(
      Array.from({ length: 6 }, () => rr.choose(undefined).candidates[0]),
      ['k1', 'k2', 'k3', 'k1', 'k2', 'k3'],
    );

    const random = createTargetSelector({ kind: 'balance', mode: 'random', targets }, { random: seeded(3) });
    const spread = tally(() => random.choose(undefined).candidates[0]!, 3000);
    for (const t of ['k1', 'k2', 'k3']) assert.ok(Math.abs(spread[t]! - 1000) <= 100, JSON.stringify(spread));

    const byKey = createTargetSelector({ kind: 'balance', mode: 'key-hash', targets });
    assert.equal(byKey.choose('a').candidates[0], byKey.choose('a').candidates[0]);
    assert.equal(byKey.choose('a').candidates[0], targets[hashKey('a') % 3]!.target);

    const weighted = createTargetSelector(
      { kind: 'balance', mode: 'weighted', targets },
      { random: seeded(11) },
    );
    const w = tally(() => weighted.choose(undefined).candidates[0]!, 4000);
    assert.ok(Math.abs(w.k3! / 4000 - 0.5) <= 0.03, JSON.stringify(w));
  });

  it('refuses a weighted strategy without a positive weight', () => {
    assert.throws(() => createTargetSelector({ kind: 'split', targets: [{ target: 'a', weight: 0 }] }));
  });

  it('hashes keys stably (FNV-1a)', () => {
    assert.equal(hashKey(''), 0x811c9dc5);
    assert.equal(hashKey('a'), 0xe40c292c);
  });
});
