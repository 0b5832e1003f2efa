/**
 * The abort signal of each publish: aborted by its deadline, by the caller (client gone), or by a
 * long-lived parent signal (the gateway's forced shutdown) — without AbortSignal.any().
 *
 * Why not AbortSignal.any([AbortSignal.timeout(ms), gone, shutdown]): on Node 20 every any() call
 * adds a WeakRef to an internal set of each source signal that is never emptied (Node 22 removes
 * the entries once the composite signal is collected). A source that lives as long as the process,
 * like the shutdown signal, so gains one entry per request, forever: about 60 bytes of heap each,
 * which the V8 heap then grows by several times (it sizes itself to a multiple of the live set).
 * Adding a listener to the parent per request instead would not leak, but EventTarget keeps its
 * listeners in a list scanned on every add and remove (quadratic in the requests in flight).
 *
 * Here a signal is a plain AbortController's. One listener on the parent serves every signal alive
 * at the time; it is added when the first one is created and removed when the last one is done.
 * A signal is done once it is aborted, which its deadline guarantees: nothing is held longer than
 * the deadline, as with AbortSignal.timeout().
 */
export interface PublishSignals {
  /** A controller aborted after `timeoutMs` (reason: a TimeoutError DOMException) or with the parent. */
  create(timeoutMs: number): AbortController;
  /** Signals not aborted yet (for tests and debugging). */
  live(): number;
}

export function createPublishSignals(parent: AbortSignal): PublishSignals {
  const live = new Set<AbortController>();
  const abortAll = () => {
    for (const controller of [...live]) controller.abort(parent.reason);
  };
  return {
    create(timeoutMs) {
      const controller = new AbortController();
      if (parent.aborted) {
        controller.abort(parent.reason);
        return controller;
      }
      // The reason AbortSignal.timeout() gives, which publisher.ts tells apart from other aborts.
      const deadline = setTimeout(
        () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
        timeoutMs,
      );
      deadline.unref();
      if (live.size === 0) parent.addEventListener('abort', abortAll, { once: true });
      live.add(controller);
      controller.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(deadline);
          live.delete(controller);
          if (live.size === 0) parent.removeEventListener('abort', abortAll);
        },
        { once: true },
      );
      return controller;
    },
    live: () => live.size,
  };
}
