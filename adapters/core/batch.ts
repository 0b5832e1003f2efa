import { setMaxListeners } from 'node:events';
import { AdapterError, toAdapterError } from './errors.js';
import type { BrokerAdapter, PublishOptions, PublishResult } from './adapter.js';
import type { MessageEnvelope } from './envelope.js';
import { approximateSize } from './wire-headers.js';

/**
 * Calls adapter.publish and always resolves with one result per message: a whole-batch rejection
 * becomes the same failure for every message. Callers never need two error paths.
 */
export async function publishSettled(
  adapter: BrokerAdapter,
  batch: readonly MessageEnvelope[],
  options: PublishOptions,
): Promise<PublishResult[]> {
  try {
    const results = await adapter.publish(batch, options);
    if (results.length !== batch.length) {
      throw new AdapterError(
        'ADP_ERR_INTERNAL',
        `adapter ${adapter.target} returned ${results.length} results for ${batch.length} messages`,
      );
    }
    return results;
  } catch (error) {
    const failure = toAdapterError(error);
    return batch.map(() => ({ ok: false, error: failure }));
  }
}

/** Returns an ADP_ERR_TOO_LARGE error for a message over the adapter's limit, or undefined. */
export function checkMessageSize(
  envelope: MessageEnvelope,
  maxMessageBytes: number,
): AdapterError | undefined {
  const size = approximateSize(envelope);
  if (size <= maxMessageBytes) return undefined;
  return new AdapterError(
    'ADP_ERR_TOO_LARGE',
    `message ${envelope.id} is about ${size} bytes; the broker accepts at most ${maxMessageBytes}`,
  );
}

/**
 * A signal that follows `signal` (same abort reason) and takes any number of listeners. Each send
 * of a batch listens for the abort, and Node warns (MaxListenersExceededWarning) beyond 10
 * listeners on one signal; this puts one listener on the caller's signal instead (for `listeners`
 * of 2 or more). Call release() once the batch has settled.
 */
export function fanOutSignal(
  signal: AbortSignal,
  listeners: number,
): { readonly signal: AbortSignal; release(): void } {
  // One message, one listener: the caller's signal serves as it is (the single-publish hot path).
  if (listeners <= 1) return { signal, release: () => undefined };
  const local = new AbortController();
  setMaxListeners(0, local.signal);
  if (signal.aborted) {
    local.abort(signal.reason);
    return { signal: local.signal, release: () => undefined };
  }
  const onAbort = () => local.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return { signal: local.signal, release: () => signal.removeEventListener('abort', onAbort) };
}

/** Rejects with ADP_ERR_ABORTED as soon as the signal fires; for awaits a client cannot cancel. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` once `ms` have passed without an answer.
 * The promise itself keeps running (most clients cannot cancel); the timer never holds the process.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

function abortError(signal: AbortSignal): AdapterError {
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error ? reason.message : 'aborted';
  return new AdapterError('ADP_ERR_ABORTED', `publish aborted: ${detail}`, { cause: reason });
}
