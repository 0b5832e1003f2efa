import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { createLoadShedder, DEFAULT_LOAD_SHED_OPTIONS, type DelaySampler } from './load-shedder.js';

function fixedSampler(): DelaySampler & { value: number } {
  return {
    value: 0,
    sample() {
      return this.value;
    },
    close() {},
  };
}

const options = {
  ...DEFAULT_LOAD_SHED_OPTIONS,
  maxInFlight: 10,
  maxEventLoopDelayMs: 100,
  sampleIntervalMs: 10,
};

describe('load shedder', () => {
  it('sheds low priority first as requests pile up, then normal, and high only when full', () => {
    const shedder = createLoadShedder(options, { sampler: fixedSampler() });
    const held: (() => void)[] = [];
    const admit = (p: 'low' | 'normal' | 'high') => {
      const d = shedder.admit(p);
      if (d.ok) held.push(d.release);
      return d.ok;
    };
    for (let i = 0; i < 6; i++) assert.equal(admit('high'), true);
    assert.equal(admit('low'), false, 'low is shed at 60%');
    assert.equal(admit('normal'), true);
    assert.equal(admit('normal'), true);
    assert.equal(admit('normal'), true);
    assert.equal(shedder.inFlight(), 9);
    assert.equal(admit('normal'), false, 'normal is shed at 85%');
    assert.equal(admit('high'), true);
    assert.equal(admit('high'), false, 'high is shed at 100%');
    for (const release of held) release();
    assert.equal(shedder.inFlight(), 0);
    assert.equal(admit('low'), true);
    shedder.close();
  });

  it('counts a release once, however often it is called', () => {
    const shedder = createLoadShedder(options, { sampler: fixedSampler() });
    const d = shedder.admit('normal');
    assert.ok(d.ok);
    d.release();
    d.release();
    assert.equal(shedder.inFlight(), 0);
    shedder.close();
  });

  it('sheds by event-loop delay too, and forgets a stall once it is over', async () => {
    const sampler = fixedSampler();
    const shed: string[] = [];
    const shedder = createLoadShedder(options, { sampler, onShed: (p) => shed.push(p) });
    sampler.value = 70;
    await sleep(40);
    assert.equal(shedder.admit('low').ok, false);
    const normal = shedder.admit('normal');
    assert.equal(normal.ok, true);
    if (normal.ok) normal.release();
    sampler.value = 5;
    await sleep(40);
    assert.equal(shedder.admit('low').ok, true);
    assert.deepEqual(shed, ['low']);
    shedder.close();
  });

  it('ignores a single stall: only a delay that lasts two intervals counts', async () => {
    const sampler = fixedSampler();
    const shedder = createLoadShedder({ ...options, sampleIntervalMs: 50 }, { sampler });
    sampler.value = 500;
    await sleep(60); // one sample of 500 at 50 ms
    sampler.value = 0;
    for (let i = 0; i < 10; i++) {
      assert.equal(shedder.load() < 0.6, true, `load ${shedder.load()}`);
      await sleep(10);
    }
    shedder.close();
  });

  it('measures the real event loop', async () => {
    const shedder = createLoadShedder({ ...options, maxEventLoopDelayMs: 50, sampleIntervalMs: 50 });
    // A saturated loop: blocked most of the time for several intervals in a row.
    let highest = 0;
    const until = Date.now() + 600;
    while (Date.now() < until) {
      const block = Date.now() + 80;
      while (Date.now() < block) {
        // block the loop
      }
      await sleep(1);
      highest = Math.max(highest, shedder.load());
    }
    assert.ok(highest > 0.5, `highest load ${highest}`);
    shedder.close();
  });
});
