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

function abortError(signal: AbortSignal): AdapterError {
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error ? reason.message : 'aborted';
  return new AdapterError('ADP_ERR_ABORTED', `publish aborted: ${detail}`, { cause: reason });
}
