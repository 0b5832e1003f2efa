/**
 * Hands a committed transaction's messages to the outbox through the running config's routes (the
 * route's strategy picks each message's target, as for an async publish), in prepare order. `ok`
 * only once every message is durably queued; otherwise the commit is retried as a whole (messages
 * queued by the failed try are queued again: duplicates by id, never a loss).
 */
import type { MessageEnvelope } from '../../adapters/core/index.js';
import type { Release } from '../../adapters/reliability/transactions/coordinator.js';
import type { Runtime } from '../runtime/runtime.js';

export async function releaseCommitted(
  runtime: Runtime,
  envelopes: readonly MessageEnvelope[],
  timeoutMs: number,
): ReturnType<Release> {
  const leave = runtime.enter();
  try {
    // Consecutive messages of one topic go together, so the order of prepare is kept.
    const runs: MessageEnvelope[][] = [];
    for (const envelope of envelopes) {
      const last = runs.at(-1);
      if (last && last[0]!.topic === envelope.topic) last.push(envelope);
      else runs.push([envelope]);
    }
    for (const run of runs) {
      const resolved = runtime.router.resolve(run[0]!.topic);
      if (!resolved) return { ok: false, detail: `no route matches topic "${run[0]!.topic}" any more` };
      const outcomes = await runtime.delivery.deliver(resolved, run, 'async', AbortSignal.timeout(timeoutMs));
      const failed = outcomes.find((o) => o.kind === 'failed' || o.kind === 'unavailable');
      if (failed)
        return { ok: false, detail: `target ${'target' in failed ? failed.target : '?'} did not take it` };
    }
    return { ok: true };
  } finally {
    leave();
  }
}
