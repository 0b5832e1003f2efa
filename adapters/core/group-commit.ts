/**
 * Group commit for synchronous, durable stores (better-sqlite3): calls that arrive in the same
 * event-loop turn are committed together in ONE transaction, so one fsync confirms them all.
 *
 * - A call is never split: a group holds whole calls, at most `maxItems` items (one larger call is
 *   committed alone).
 * - Reaching `maxItems` queued items commits at once; otherwise the commit runs on setImmediate,
 *   after the current turn's I/O callbacks, so every request of that turn joins it.
 * - A call whose AbortSignal fires while it is still queued is withdrawn (nothing was written) and
 *   rejects with `abortError(signal)`. Once its group is committing, the outcome stands.
 * - `commit` is synchronous and returns one result per item, in order; it must not throw (a store
 *   turns a failed transaction into per-item failure results). If it throws anyway, every call of
 *   the group rejects with that error.
 *
 * Used by the embedded broker's log and by the SQLite outbox, so both batch their fsyncs the same way.
 */
export interface GroupCommitOptions<Item, Result> {
  readonly maxItems: number;
  commit(items: Item[]): Result[];
  /** The error a withdrawn call rejects with. */
  abortError(signal: AbortSignal): Error;
}

export interface GroupCommitter<Item, Result> {
  /** Queues the items for the next commit; resolves with their results after it. */
  submit(items: readonly Item[], signal?: AbortSignal): Promise<Result[]>;
  /** Commits everything queued now (synchronously). */
  flush(): void;
  /** Items waiting for a commit. */
  readonly pending: number;
}

interface PendingCall<Item, Result> {
  readonly items: readonly Item[];
  resolve(results: Result[]): void;
  reject(error: Error): void;
  detach(): void;
}

export function createGroupCommitter<Item, Result>(
  options: GroupCommitOptions<Item, Result>,
): GroupCommitter<Item, Result> {
  const queue: PendingCall<Item, Result>[] = [];
  let queued = 0;
  let scheduled: NodeJS.Immediate | undefined;

  function flush(): void {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    while (queue.length > 0) {
      const group: PendingCall<Item, Result>[] = [];
      let count = 0;
      while (queue.length > 0) {
        const call = queue[0]!;
        if (group.length > 0 && count + call.items.length > options.maxItems) break;
        queue.shift();
        group.push(call);
        count += call.items.length;
      }
      queued -= count;
      commitGroup(group);
    }
  }

  function commitGroup(group: PendingCall<Item, Result>[]): void {
    for (const call of group) call.detach();
    let results: Result[];
    try {
      results = options.commit(group.flatMap((call) => call.items));
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const call of group) call.reject(failure);
      return;
    }
    let k = 0;
    for (const call of group) {
      call.resolve(results.slice(k, k + call.items.length));
      k += call.items.length;
    }
  }

  return {
    get pending() {
      return queued;
    },
    flush,
    submit(items, signal) {
      if (signal?.aborted) return Promise.reject(options.abortError(signal));
      if (items.length === 0) return Promise.resolve([]);
      return new Promise<Result[]>((resolve, reject) => {
        const onAbort = () => {
          const at = queue.indexOf(call);
          if (at < 0) return;
          queue.splice(at, 1);
          queued -= items.length;
          reject(options.abortError(signal!));
        };
        const call: PendingCall<Item, Result> = {
          items,
          resolve,
          reject,
          detach: () => signal?.removeEventListener('abort', onAbort),
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        queue.push(call);
        queued += items.length;
        if (queued >= options.maxItems) flush();
        // Not unref'd on purpose: callers are waiting for it.
        else scheduled ??= setImmediate(flush);
      });
    },
  };
}
