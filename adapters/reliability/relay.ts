/**
 * The relay: forwards queued outbox rows to their broker targets.
 *
 * - Order: the outbox hands out a key's rows only as a run that starts at its oldest queued row,
 *   and to one relay at a time; the run goes to the adapter in one call, in order, and the adapter
 *   keeps a key's order within a call (a failure holds the key's later messages back). A row that
 *   waits out a retry backoff holds back the rows of its key after it. Keyless rows go freely.
 * - Retries: a retriable failure puts the row back with a full-jitter backoff (per row, so rows
 *   that failed together do not come back together); a non-retriable failure, the last attempt
 *   (`maxAttempts`) or a message older than `maxAgeMs` makes it dead, with its error.
 * - Targets named by `skipTargets` (an open circuit breaker) are not claimed for at all.
 * - A target that is down (every message of a call failed retriably) is skipped for a full-jitter
 *   backoff that grows while it stays down; those tries are the target's, not the messages': they
 *   neither count as attempts nor delay the rows, so an outage of any length (short of maxAgeMs)
 *   kills nothing and the queue drains as soon as the target answers again. It drains `batchSize`
 *   rows per cycle per relay — never all at once — which keeps a recovered broker from a thundering herd.
 * - Several relays (replicas on one PostgreSQL outbox) never publish one row at once: claims take a
 *   lease (`leaseMs`), and only the lease owner may settle the row.
 * - stop() lets the current cycle finish (its publishes are bounded by `publishTimeoutMs`), then resolves.
 *
 * - Delayed messages: the outbox does not hand a row out before its deliverAt. When idle, the relay
 *   sleeps until the earliest due time it knows of (a delayed message or a retry) when that comes
 *   before the next poll, so a delayed message goes out within a timer's precision of its time,
 *   not up to a poll interval late. A delayed message's age (maxAgeMs) counts from its deliverAt.
 *
 * Wakes on wake() (called after an append), at the next due time, or every `pollIntervalMs`.
 */
import { randomUUID } from 'node:crypto';
import {
  backoffDelay,
  toAdapterError,
  type Logger,
  type MessageEnvelope,
  type PublishResult,
} from '../core/index.js';
import type { ClaimedRow, Outbox, Settlement } from './outbox/outbox.js';
import { createRetryPolicy, sleep, type RetryOptions } from './retry.js';

export interface RelayConfig {
  /** Most rows claimed per cycle. */
  readonly batchSize: number;
  /** Idle poll interval, when not woken by an append. */
  readonly pollIntervalMs: number;
  /** How long a claim is exclusive; must exceed publishTimeoutMs. */
  readonly leaseMs: number;
  /** Deadline of one publish call to a target. */
  readonly publishTimeoutMs: number;
  /** Per-row retry: attempts (after which the row is dead) and backoff. */
  readonly retry: RetryOptions;
  /** A message still undelivered this long after it was accepted (or last replayed) is dead. */
  readonly maxAgeMs: number;
  /** Backoff of a target that is down (full jitter between 0 and min(max, base * 2^n)). */
  readonly targetBackoff: { readonly baseDelayMs: number; readonly maxDelayMs: number };
}

/** Metric callbacks (adapters/ cannot import the gateway's metrics). */
export interface RelayObserver {
  published?(target: string, outcome: string): void;
  retried?(target: string): void;
  dead?(target: string): void;
}

export interface RelayDeps {
  readonly outbox: Outbox;
  publish(
    target: string,
    envelopes: readonly MessageEnvelope[],
    signal: AbortSignal,
  ): Promise<PublishResult[]>;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  /** This relay's lease owner id. Default: a random UUID. */
  readonly owner?: string;
  readonly observer?: RelayObserver;
  /**
   * Targets not to claim rows for right now (e.g. their circuit breaker is open): their rows wait,
   * without spending attempts, until the target is tried again. Default: none.
   */
  readonly skipTargets?: () => readonly string[];
  /** Called after a broker answered and before the outbox is updated (fault-test crash point). */
  readonly afterBrokerAck?: () => void;
}

export interface Relay {
  start(): void;
  /** Runs a cycle soon (after an append). */
  wake(): void;
  /** Runs one claim-publish-settle cycle now; returns how many rows it handled. For tests. */
  cycle(): Promise<number>;
  /** Idempotent: finishes the current cycle, then stops. */
  stop(): Promise<void>;
}

export function createRelay(config: RelayConfig, deps: RelayDeps): Relay {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const owner = deps.owner ?? randomUUID();
  const logger = deps.logger.child({ component: 'relay' });
  const rowRetry = createRetryPolicy(config.retry, { random, now });
  const targetRetry = createRetryPolicy(
    { maxAttempts: Number.MAX_SAFE_INTEGER, ...config.targetBackoff },
    { random, now },
  );
  const down = new Map<string, { failures: number; until: number }>();
  const stopping = new AbortController();
  let wakeUp: AbortController | undefined;
  let woken = false;
  let loop: Promise<void> | undefined;
  let running: Promise<number> | undefined;
  let storeFailures = 0;
  // A store that keeps failing is polled less often: the poll interval doubling up to 64× (30 s at most).
  const storeBackoff = {
    initialDelayMs: config.pollIntervalMs,
    maxDelayMs: Math.min(30_000, config.pollIntervalMs * 64),
    jitter: 'none',
  } as const;

  async function publishTarget(target: string, rows: ClaimedRow[]): Promise<Settlement[]> {
    // Not tied to stop(): a stopping relay lets its current batch finish (bounded by this timeout).
    const signal = AbortSignal.timeout(config.publishTimeoutMs);
    let results: PublishResult[];
    try {
      results = await deps.publish(
        target,
        rows.map((r) => r.envelope),
        signal,
      );
    } catch (error) {
      // publish() should settle every message; treat a rejection as an ambiguous internal failure.
      const failure = toAdapterError(error);
      results = rows.map(() => ({ ok: false, error: failure }));
    }
    deps.afterBrokerAck?.();
    const at = now();
    const okCount = results.filter((r) => r.ok).length;
    const allRetriableFailures = okCount === 0 && results.every((r) => !r.ok && r.error.retriable);
    if (allRetriableFailures) {
      const failures = (down.get(target)?.failures ?? 0) + 1;
      const wait = targetRetry.backoff(failures);
      down.set(target, { failures, until: at + wait });
      if (failures === 1 || failures % 10 === 0) {
        const first = results[0] as Extract<PublishResult, { ok: false }>;
        logger.warn(
          { target, failures, retryInMs: wait, code: first.error.code },
          'target unavailable; the relay backs off and keeps the messages queued',
        );
      }
    } else if (down.has(target)) {
      down.delete(target);
      logger.info({ target }, 'target reachable again; draining its queued messages');
    }

    return rows.map((row, i): Settlement => {
      const result = results[i]!;
      // A delayed message's age counts from when it was due, not from when it was accepted.
      const age = at - Math.max(row.acceptedAt, row.envelope.deliverAt ?? 0);
      if (allRetriableFailures && age < config.maxAgeMs) {
        // The target is down, not this message: the try does not count against the message's
        // attempts or grow its own backoff, so it goes out as soon as the target is back (the
        // target's backoff above decides when that is probed). Only maxAgeMs can make it dead.
        deps.observer?.published?.(target, (result as Extract<PublishResult, { ok: false }>).error.code);
        const { error } = result as Extract<PublishResult, { ok: false }>;
        return {
          seq: row.seq,
          kind: 'retry',
          attempts: row.attempts,
          nextAttemptAt: at,
          error: { code: error.code, message: error.message },
        };
      }
      const attempts = row.attempts + 1;
      deps.observer?.published?.(target, result.ok ? 'confirmed' : result.error.code);
      if (result.ok) return { seq: row.seq, kind: 'confirmed', attempts, receipt: result.receipt };
      const error = { code: result.error.code, message: result.error.message };
      const decision = rowRetry.decide(result.error, attempts);
      const tooOld = age >= config.maxAgeMs;
      if (!decision.retry || tooOld) {
        deps.observer?.dead?.(target);
        logger.warn(
          {
            target,
            id: row.envelope.id,
            tenant: row.envelope.tenant,
            attempts,
            code: error.code,
            reason: tooOld ? 'max-age' : decision.retry ? 'retry' : decision.reason,
          },
          'message is dead: it will not be retried unless replayed',
        );
        return { seq: row.seq, kind: 'dead', attempts, error };
      }
      deps.observer?.retried?.(target);
      return { seq: row.seq, kind: 'retry', attempts, nextAttemptAt: at + decision.delayMs, error };
    });
  }

  async function runCycle(): Promise<number> {
    const at = now();
    const excludeTargets = [...down].filter(([, state]) => state.until > at).map(([target]) => target);
    for (const target of deps.skipTargets?.() ?? []) {
      if (!excludeTargets.includes(target)) excludeTargets.push(target);
    }
    const rows = await deps.outbox.claim(
      { limit: config.batchSize, owner, leaseMs: config.leaseMs, excludeTargets },
      at,
    );
    if (rows.length === 0) return 0;
    const byTarget = new Map<string, ClaimedRow[]>();
    for (const row of rows) {
      const list = byTarget.get(row.target) ?? [];
      list.push(row);
      byTarget.set(row.target, list);
    }
    const settled = await Promise.all([...byTarget].map(([target, list]) => publishTarget(target, list)));
    await deps.outbox.settle(settled.flat(), owner, now());
    return rows.length;
  }

  function cycle(): Promise<number> {
    running ??= runCycle().finally(() => {
      running = undefined;
    });
    return running;
  }

  /** How long to sleep: until the earliest due row when that is sooner than `poll` (at least 1 ms). */
  async function untilNextDue(poll: number): Promise<number> {
    try {
      const next = await deps.outbox.nextDueAt(now());
      if (next === undefined) return poll;
      return Math.max(1, Math.min(poll, next - now()));
    } catch {
      return poll;
    }
  }

  async function run(): Promise<void> {
    while (!stopping.signal.aborted) {
      let handled = 0;
      try {
        handled = await cycle();
        if (storeFailures > 0) logger.info({}, 'relay: outbox usable again');
        storeFailures = 0;
      } catch (error) {
        storeFailures += 1;
        if (storeFailures === 1 || storeFailures % 30 === 0) {
          logger.error({ err: error, failures: storeFailures }, 'relay cycle failed; retrying');
        }
      }
      if (stopping.signal.aborted) break;
      if (handled > 0 && storeFailures === 0) {
        // Rows were due, so more may be (a backlog drains batchSize rows per cycle): do not wait
        // out a poll interval between cycles. Yield to the event loop, then go on; a target that
        // is down is excluded by its backoff, so this does not spin on it.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      if (woken) {
        woken = false;
        continue;
      }
      wakeUp = new AbortController();
      const wait =
        storeFailures > 0
          ? backoffDelay(storeFailures + 1, storeBackoff)
          : await untilNextDue(config.pollIntervalMs);
      // stop() aborts wakeUp too. Not AbortSignal.any([wakeUp.signal, stopping.signal]): on Node 20
      // each call leaves a WeakRef in the long-lived stopping signal for good (one per idle poll).
      await sleep(wait, wakeUp.signal);
      wakeUp = undefined;
      woken = false;
    }
  }

  return {
    start() {
      loop ??= run();
    },
    wake() {
      woken = true;
      wakeUp?.abort();
    },
    cycle,
    async stop() {
      stopping.abort(new Error('relay stopping'));
      wakeUp?.abort();
      await loop;
      await running?.catch(() => undefined);
    },
  };
}
