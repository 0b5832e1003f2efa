import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { fanOutSignal } from './batch.js';

describe('fanOutSignal', () => {
  it('takes a listener per message of a big batch without a MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const caller = new AbortController();
      const fanned = fanOutSignal(caller.signal, 100);
      const aborted: unknown[] = [];
      for (let i = 0; i < 100; i++)
        fanned.signal.addEventListener('abort', () => aborted.push(fanned.signal.reason));
      assert.equal(getEventListeners(caller.signal, 'abort').length, 1, 'one listener on the caller');
      const reason = new Error('deadline');
      caller.abort(reason);
      assert.equal(aborted.length, 100);
      assert.ok(
        aborted.every((r) => r === reason),
        'the same abort reason',
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('release() takes its listener off the caller signal; an aborted signal fans out aborted', () => {
    const caller = new AbortController();
    const fanned = fanOutSignal(caller.signal, 100);
    fanned.release();
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0);
    caller.abort(new Error('late'));
    assert.equal(fanned.signal.aborted, false, 'released: no longer follows');

    const gone = new AbortController();
    gone.abort(new Error('already'));
    assert.equal(fanOutSignal(gone.signal, 2).signal.aborted, true);
  });
});
