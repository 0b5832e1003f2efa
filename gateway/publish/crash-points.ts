/**
 * Crash points, FOR FAULT TESTING ONLY (config `faults.crashAt`, default none): the process kills
 * itself with SIGKILL — no cleanup, no flush — at a chosen point, so a test can restart it and check
 * that nothing accepted was lost.
 *
 * - `after-outbox-write`: an async or spooled message was committed to the outbox; the process dies
 *   before its publish and before the answer is sent.
 * - `after-broker-ack`: the relay got the broker's answer; the process dies before the outbox row is
 *   marked confirmed (so the message is published again after restart, with the same id).
 */
export type CrashPoint = 'after-outbox-write' | 'after-broker-ack';

export interface CrashPoints {
  hit(point: CrashPoint): void;
}

export function createCrashPoints(
  crashAt: CrashPoint | 'none',
  deps: { kill?: () => void } = {},
): CrashPoints {
  const kill = deps.kill ?? (() => process.kill(process.pid, 'SIGKILL'));
  return {
    hit(point) {
      if (point === crashAt) kill();
    },
  };
}
