import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPublishSignals } from './publish-signals.js';

describe('publish signals', () => {
  it('abort at their deadline with a TimeoutError, as AbortSignal.timeout does', async () => {
    const signals = createPublishSignals(new AbortController().signal);
    const { signal } = signals.create(20);
    assert.equal(signal.aborted, false);
    await sleep(60);
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as DOMException).name, 'TimeoutError');
    assert.equal(signals.live(), 0);
  });

  it('abort with the parent, with its reason', () => {
    const parent = new AbortController();
    const signals = createPublishSignals(parent.signal);
    const a = signals.create(10_000);
    const b = signals.create(10_000);
    const reason = new Error('gateway shutdown timeout');
    parent.abort(reason);
    assert.equal(a.signal.reason, reason);
    assert.equal(b.signal.reason, reason);
    assert.equal(signals.live(), 0);
    // Created after the parent was aborted: aborted at once.
    assert.equal(signals.create(10_000).signal.reason, reason);
  });

  it('leave nothing on the parent once every signal is done', () => {
    const parent = new AbortController();
    const signals = createPublishSignals(parent.signal);
    const controllers = Array.from({ length: 100 }, () => signals.create(10_000));
    // One listener on the parent, however many signals are alive.
    assert.equal(getEventListeners(parent.signal, 'abort').length, 1);
    for (const controller of controllers) controller.abort(new Error('client closed the connection'));
    assert.equal(signals.live(), 0);
    assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
    assert.equal(parent.signal.aborted, false);
    // The first signal after that puts the listener back.
    const next = signals.create(10_000);
    parent.abort(new Error('stop'));
    assert.equal(next.signal.aborted, true);
  });

  it('a caller abort keeps its own reason', () => {
    const signals = createPublishSignals(new AbortController().signal);
    const controller = signals.create(10_000);
    const reason = new Error('client closed the connection');
    controller.abort(reason);
    assert.equal(controller.signal.reason, reason);
    assert.equal(signals.live(), 0);
  });
});
