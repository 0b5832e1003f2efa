import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReaderTimeoutError, createReadBuffer, type ReadMessage } from './reader.js';

const message = (id: string): ReadMessage => ({
  id,
  tenant: 't',
  topic: 'x',
  contentType: 'text/plain',
  headers: {},
  payload: new Uint8Array(),
});

describe('read buffer', () => {
  it('waitForCount resolves on arrival and keeps redeliveries', async () => {
    const buffer = createReadBuffer('test');
    const waiting = buffer.waitForCount(2, 1_000);
    buffer.push(message('a'));
    buffer.push(message('a'));
    await waiting;
    assert.deepEqual(
      buffer.received().map((m) => m.id),
      ['a', 'a'],
    );
  });

  it('waitForCount rejects with ReaderTimeoutError naming how many arrived', async () => {
    const buffer = createReadBuffer('test');
    buffer.push(message('a'));
    await assert.rejects(buffer.waitForCount(3, 50), (error: unknown) => {
      assert.ok(error instanceof ReaderTimeoutError);
      assert.match(error.message, /received 1 of 3/);
      return true;
    });
  });

  it('waitForIdle waits until nothing arrived for idleMs', async () => {
    const buffer = createReadBuffer('test');
    let last = 0;
    const timer = setInterval(() => {
      buffer.push(message('x'));
      last = Date.now();
    }, 20);
    setTimeout(() => clearInterval(timer), 200);
    await buffer.waitForIdle(100, 5_000);
    assert.ok(last > 0 && Date.now() - last >= 95, 'idle only once nothing arrived for idleMs');
    assert.ok(buffer.received().length >= 5);
  });

  it('a failure or close rejects the waits', async () => {
    const failing = createReadBuffer('test');
    const waiting = failing.waitForCount(1, 5_000);
    failing.fail(new Error('consumer crashed'));
    await assert.rejects(waiting, /consumer crashed/);
    const closing = createReadBuffer('test');
    const waitingClosed = closing.waitForCount(1, 5_000);
    closing.closed();
    await assert.rejects(waitingClosed, /reader closed/);
  });
});
