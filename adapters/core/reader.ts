/**
 * Optional ability of an adapter kind: read a destination back with a real consumer of the broker,
 * from its start. The verifier (loss detection) and the contract suite use it; the gateway's publish
 * path never does. A kind offers it through `createReader` on its AdapterKind, so a new broker adds
 * its reader in its own folder.
 */
import type { AdapterDeps } from './adapter.js';

/** A message as a reader received it, decoded from the wire headers. */
export interface ReadMessage {
  /** pubgate-id; '' when the message carries none (not published by a gateway). */
  readonly id: string;
  readonly tenant: string;
  readonly topic: string;
  readonly key?: string;
  readonly contentType: string;
  /** User headers only (the gateway's own wire headers removed). */
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Uint8Array;
  /** pubgate-seq and pubgate-producer, when the gateway stamped them. */
  readonly seq?: number;
  readonly producer?: string;
  /** Where the broker kept it, on brokers that have partitions and offsets. */
  readonly partition?: number;
  readonly offset?: string;
}

/**
 * What a reader reads. Besides the destination, each kind's reader takes only the options its
 * kind declares (`declarations.readerOptions`, with what each means on that broker) and ignores
 * the others.
 */
export interface ReaderOptions {
  /** The broker-side destination (the route's destination). */
  readonly destination: string;
  /** Consumer group, for brokers that have them. Default: a new unique group, which reads from the start. */
  readonly group?: string;
  /**
   * The queue to consume, for brokers that keep messages only in queues: such a broker keeps only
   * what reached a queue, so the queue must exist (bound to the destination) before publishing.
   */
  readonly queue?: string;
}

/** Thrown by waitForCount when not enough messages arrived in time. */
export class ReaderTimeoutError extends Error {
  override readonly name = 'ReaderTimeoutError';
}

/** A running consumer of one destination. Survives broker restarts where its client can. */
export interface DestinationReader {
  /** Everything received so far, in arrival order, redeliveries included. */
  received(): readonly ReadMessage[];
  /** Resolves once `count` messages (redeliveries included) arrived; rejects after timeoutMs. */
  waitForCount(count: number, timeoutMs: number): Promise<void>;
  /** Resolves once nothing arrived for `idleMs` in a row, or after `maxMs` in total. */
  waitForIdle(idleMs: number, maxMs: number): Promise<void>;
  /** Idempotent. Stops consuming and releases the client (and what the reader created for itself). */
  close(): Promise<void>;
}

export type CreateReader<Config> = (
  config: Config,
  options: ReaderOptions,
  deps: AdapterDeps,
) => Promise<DestinationReader>;

/**
 * The shared part of every reader: keeps what arrived and implements the waits. A reader pushes
 * messages in with `push` and reports a fatal consumer failure with `fail` (waits then reject).
 */
export interface ReadBuffer extends Pick<DestinationReader, 'received' | 'waitForCount' | 'waitForIdle'> {
  push(message: ReadMessage): void;
  fail(error: Error): void;
  /** Wakes every wait (they re-check and usually reject because the reader closed). */
  closed(): void;
}

/**
 * The reader a buffer serves. close() runs once, however often it is called: it wakes the buffer's
 * waits, then `release`s the reader's consumer.
 */
export function readerOf(buffer: ReadBuffer, release: () => Promise<void>): DestinationReader {
  let closing: Promise<void> | undefined;
  return {
    received: buffer.received,
    waitForCount: buffer.waitForCount,
    waitForIdle: buffer.waitForIdle,
    close: () =>
      (closing ??= (async () => {
        buffer.closed();
        await release();
      })()),
  };
}

export function createReadBuffer(describe: string): ReadBuffer {
  const messages: ReadMessage[] = [];
  const waiters = new Set<() => void>();
  let failure: Error | undefined;
  let isClosed = false;
  let lastArrival = Date.now();
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };

  /** Waits until check() returns true (resolve) or throws, re-checking on every arrival and tick. */
  function waitUntil(check: () => boolean, tickMs: number, timeoutMs: number, onTimeout: () => Error) {
    return new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      let timer: NodeJS.Timeout | undefined;
      const finish = (error?: Error) => {
        waiters.delete(run);
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const run = () => {
        try {
          if (failure) return finish(new Error(`${describe}: ${failure.message}`, { cause: failure }));
          if (check()) return finish();
          if (isClosed) return finish(new Error(`${describe}: reader closed`));
          const left = deadline - Date.now();
          if (left <= 0) return finish(onTimeout());
          clearTimeout(timer);
          // Not unref()'d: someone awaits this wait, so it must keep the process alive; it is
          // cleared as soon as the wait settles.
          timer = setTimeout(run, Math.min(left, tickMs));
        } catch (error) {
          finish(error instanceof Error ? error : new Error(String(error)));
        }
      };
      waiters.add(run);
      run();
    });
  }

  return {
    push(message) {
      messages.push(message);
      lastArrival = Date.now();
      wake();
    },
    fail(error) {
      failure ??= error;
      wake();
    },
    closed() {
      isClosed = true;
      wake();
    },
    received: () => messages,
    waitForCount(count, timeoutMs) {
      return waitUntil(
        () => messages.length >= count,
        1_000,
        timeoutMs,
        () =>
          new ReaderTimeoutError(
            `${describe}: received ${messages.length} of ${count} messages within ${timeoutMs} ms`,
          ),
      );
    },
    waitForIdle(idleMs, maxMs) {
      const started = Date.now();
      lastArrival = Math.max(lastArrival, started);
      // Never rejects on time: after maxMs the caller looks at what arrived.
      return waitUntil(
        () => Date.now() - lastArrival >= idleMs || Date.now() - started >= maxMs,
        Math.max(50, Math.min(idleMs / 4, 500)),
        maxMs + idleMs,
        () => new ReaderTimeoutError(`${describe}: still receiving after ${maxMs} ms`),
      );
    },
  };
}
