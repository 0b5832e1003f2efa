/**
 * Delivery modes: how a request's messages reach the broker and what the answer promises.
 *
 * - sync: each message's target(s) come from the route's strategy (gateway/target-selection.ts).
 *   It is published with retries (retriable errors only, full-jitter backoff) within the request's
 *   deadline, each try through the target's circuit breaker. Confirmed → `confirmed` (201).
 *   When the target is unavailable — breaker open, never connected, or still failing retriably
 *   after the retries — the route's `degrade` decides:
 *     `reject`   → `unavailable` (503 GW_ERR_BREAKER_OPEN, without calling the adapter) or `failed` (503);
 *     `spool`    → written to the outbox for the message's first candidate → `queued` (202).
 *               A spool route also queues (202) a message whose key still has spooled messages
 *               waiting for that target, healthy or not, so the key's order holds (queueBehindKey);
 *     `failover` → the next candidate target is tried, and its outcome is the answer.
 *   Caller errors (too large, invalid destination) and unroutable messages are never degraded.
 * - async: written to the outbox (fsync'd) for the message's chosen target → `queued` (202); the
 *   relay publishes it (and backs off a target whose breaker is open).
 * - fire-and-forget: `accepted` (202) at once; published in the background like sync, but never
 *   spooled. Nothing is durable before the broker confirms: a crash, or a broker down longer than
 *   the deadline, loses the message. Its outcome is still recorded for GET /v1/messages/{id}.
 *
 * Mirror routes: every secondary gets a copy (same id) at the same time as the primary, in every
 * mode; the copy's outcome is counted (pubgate_mirror_publish_total) and logged, never answered,
 * and never delays the answer (it is bounded by the same deadline; drain() waits for it at shutdown).
 *
 * Every outcome of a sync or fire-and-forget publish is recorded as a status row (not fsync'd,
 * batched), so GET /v1/messages/{id} answers for every recent message.
 *
 * Delayed messages (an envelope whose deliverAt is ahead), whatever the mode: written to the outbox
 * (fsync'd) for the message's first candidate with their deliverAt → `scheduled` (202); the relay
 * publishes each once due (the emulated delay; no broker's native delay is used). In a request with
 * delayed and immediate messages, an async request appends them all in one write, in request
 * order; otherwise the delayed ones are appended first (an outbox refusal is then thrown before
 * anything was published) and the rest go their mode's way. Mirror secondaries get no copy of a
 * delayed message.
 */
import type { AdapterError, Logger, MessageEnvelope, PublishReceipt } from '../../adapters/core/index.js';
import type { Outbox } from '../../adapters/reliability/outbox/outbox.js';
import type { Relay } from '../../adapters/reliability/relay.js';
import { sleep, type RetryPolicy } from '../../adapters/reliability/retry.js';
import type { DeliveryMode } from '../config/schema.js';
import { GatewayError } from '../errors/registry.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { ResolvedRoute } from '../routing.js';
import type { TargetChoice } from '../target-selection.js';
import type { CrashPoints } from './crash-points.js';
import type { Publisher, Unavailable } from './publisher.js';

export type DeliveryOutcome =
  | { readonly kind: 'confirmed'; readonly receipt: PublishReceipt }
  | { readonly kind: 'queued' }
  | { readonly kind: 'accepted' }
  /** Delayed: fsync'd in the outbox for `target`; the relay publishes it once `deliverAt` is reached. */
  | { readonly kind: 'scheduled'; readonly deliverAt: number; readonly target: string }
  /** The broker (of `target`) failed it; nothing kept. */
  | { readonly kind: 'failed'; readonly target: string; readonly error: AdapterError }
  /** `target` was not tried: breaker open or never connected; nothing kept. */
  | {
      readonly kind: 'unavailable';
      readonly target: string;
      readonly reason: Unavailable['reason'];
      readonly retryAfterMs: number;
    };

export interface Delivery {
  /**
   * Delivers the envelopes in `mode` and resolves with one outcome per envelope. Throws a
   * GatewayError (503) when the outbox cannot take an async request, or the messages a spool route
   * must queue behind their key: nothing was published or kept then.
   */
  deliver(
    route: ResolvedRoute,
    envelopes: readonly MessageEnvelope[],
    mode: DeliveryMode,
    signal: AbortSignal,
  ): Promise<DeliveryOutcome[]>;
  /** Waits (at most `timeoutMs`) for background work: fire-and-forget publishes, mirror copies. */
  drain(timeoutMs: number): Promise<void>;
}

export interface DeliveryDeps {
  readonly publisher: Pick<Publisher, 'availability' | 'attempt'>;
  readonly outbox: Pick<Outbox, 'append' | 'recordStatus' | 'queuedKeys'>;
  readonly relay: Pick<Relay, 'wake'>;
  readonly retry: RetryPolicy;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly crash: CrashPoints;
  readonly now: () => number;
  readonly publishTimeoutMs: number;
  readonly retryAfterSeconds: number;
}

/** Where one message stands after its publish: final, or still degradable (spool). */
type Settled =
  | { readonly kind: 'confirmed'; readonly target: string; readonly receipt: PublishReceipt }
  | { readonly kind: 'failed'; readonly target: string; readonly error: AdapterError }
  | ({ readonly kind: 'unavailable'; readonly target: string } & Omit<Unavailable, 'ok'>);

interface Routed {
  readonly settled: Settled;
  readonly attempts: number;
}

/** A failure the route's degrade mode applies to: the target is cut off or keeps failing retriably. */
function degradable(settled: Settled): boolean {
  return settled.kind === 'unavailable' || (settled.kind === 'failed' && settled.error.retriable);
}

export function createDelivery(deps: DeliveryDeps): Delivery {
  const { publisher, outbox, metrics, now } = deps;
  const background = new Set<Promise<unknown>>();

  function track(task: Promise<unknown>): void {
    const tracked = task.finally(() => background.delete(tracked));
    background.add(tracked);
  }

  /**
   * Publishes `indices` of `envelopes` to one target with retries, each try through its breaker.
   * A target that is unavailable up front (or whose breaker opens between tries) is not called.
   */
  async function publishToTarget(
    target: string,
    envelopes: readonly MessageEnvelope[],
    indices: readonly number[],
    signal: AbortSignal,
    deadline: number,
  ): Promise<Map<number, Routed>> {
    const out = new Map<number, Routed>();
    const up = publisher.availability(target);
    if (!up.ok) {
      for (const i of indices) out.set(i, { settled: { kind: 'unavailable', target, ...up }, attempts: 0 });
      return out;
    }
    let pending = [...indices];
    for (let attempt = 1; pending.length > 0; attempt++) {
      const tried = await publisher.attempt(
        target,
        pending.map((i) => envelopes[i]!),
        signal,
      );
      if (tried.kind === 'unavailable') {
        const { reason, retryAfterMs } = tried;
        for (const i of pending) {
          out.set(i, {
            settled: { kind: 'unavailable', target, reason, retryAfterMs },
            attempts: attempt - 1,
          });
        }
        break;
      }
      const retry: number[] = [];
      let delayMs = 0;
      tried.results.forEach((result, k) => {
        const index = pending[k]!;
        out.set(index, {
          settled: result.ok
            ? { kind: 'confirmed', target, receipt: result.receipt }
            : { kind: 'failed', target, error: result.error },
          attempts: attempt,
        });
        if (result.ok || signal.aborted) return;
        const decision = deps.retry.decide(result.error, attempt, deadline);
        if (decision.retry) {
          retry.push(index);
          delayMs = Math.max(delayMs, decision.delayMs);
        }
      });
      if (retry.length === 0) break;
      metrics.publishRetries.inc({ target }, retry.length);
      if (!(await sleep(delayMs, signal))) break;
      pending = retry;
    }
    return out;
  }

  /**
   * Publishes every envelope to its chosen target, moving on to the next candidate where the route
   * degrades by failover. Batches go out grouped by target.
   */
  async function publishRouted(
    route: ResolvedRoute,
    envelopes: readonly MessageEnvelope[],
    choices: readonly TargetChoice[],
    signal: AbortSignal,
    deadline: number,
  ): Promise<Routed[]> {
    const routed = new Array<Routed>(envelopes.length);
    const position = envelopes.map(() => 0);
    const failover = route.route.degrade === 'failover';
    let pending = envelopes.map((_, i) => i);
    while (pending.length > 0) {
      const byTarget = new Map<string, number[]>();
      for (const i of pending) {
        const target = choices[i]!.candidates[position[i]!]!;
        const list = byTarget.get(target);
        if (list) list.push(i);
        else byTarget.set(target, [i]);
      }
      const rounds = await Promise.all(
        [...byTarget].map(([target, indices]) => {
          metrics.routeTarget.inc({ route: route.route.topic, target }, indices.length);
          return publishToTarget(target, envelopes, indices, signal, deadline);
        }),
      );
      const next: number[] = [];
      for (const round of rounds) {
        for (const [i, result] of round) {
          const earlier = routed[i]?.attempts ?? 0;
          routed[i] = { settled: result.settled, attempts: earlier + result.attempts };
          const more = position[i]! + 1 < choices[i]!.candidates.length;
          if (failover && more && degradable(result.settled) && !signal.aborted) {
            position[i]! += 1;
            metrics.degraded.inc({ route: route.route.topic, action: 'failover' });
            next.push(i);
          }
        }
      }
      if (next.length > 0) {
        deps.logger.debug(
          { route: route.route.topic, messages: next.length },
          'target unavailable or failing; failing over to the next target',
        );
      }
      pending = next;
    }
    return routed;
  }

  /** Copies to mirror secondaries: in the background, counted and logged, never answered. */
  function mirror(
    envelopes: readonly MessageEnvelope[],
    choices: readonly TargetChoice[],
    signal: AbortSignal,
  ): void {
    const byTarget = new Map<string, MessageEnvelope[]>();
    envelopes.forEach((envelope, i) => {
      for (const target of choices[i]!.mirrors) {
        const list = byTarget.get(target);
        if (list) list.push(envelope);
        else byTarget.set(target, [envelope]);
      }
    });
    for (const [target, copies] of byTarget) {
      const up = publisher.availability(target);
      if (!up.ok) {
        metrics.mirrorPublish.inc({ target, outcome: up.reason }, copies.length);
        continue;
      }
      track(
        publisher
          .attempt(target, copies, signal)
          .then((tried) => {
            if (tried.kind === 'unavailable') {
              metrics.mirrorPublish.inc({ target, outcome: tried.reason }, copies.length);
              return;
            }
            let failed = 0;
            tried.results.forEach((result) => {
              metrics.mirrorPublish.inc({ target, outcome: result.ok ? 'confirmed' : result.error.code });
              if (!result.ok) failed++;
            });
            if (failed > 0) {
              const first = tried.results.find((r) => !r.ok);
              deps.logger.warn(
                { target, failed, code: first && !first.ok ? first.error.code : undefined },
                'mirror copies were not published (the answer came from the primary)',
              );
            }
          })
          .catch((error: unknown) => deps.logger.error({ err: error, target }, 'mirror publish failed')),
      );
    }
  }

  async function append(
    envelopes: readonly MessageEnvelope[],
    targets: readonly string[],
  ): Promise<GatewayError | undefined> {
    const stop = metrics.outboxAppendDuration.startTimer();
    const outcome = await outbox.append(envelopes.map((envelope, i) => ({ envelope, target: targets[i]! })));
    stop();
    if (outcome.kind === 'full') {
      return new GatewayError('GW_ERR_OUTBOX_FULL', `${outcome.detail}; nothing was kept`, {
        retryAfterSeconds: deps.retryAfterSeconds,
      });
    }
    if (outcome.kind === 'unavailable') {
      return new GatewayError('GW_ERR_OUTBOX_UNAVAILABLE', `${outcome.detail}; nothing was kept`, {
        retryAfterSeconds: deps.retryAfterSeconds,
      });
    }
    deps.crash.hit('after-outbox-write');
    deps.relay.wake();
    return undefined;
  }

  function record(envelopes: readonly MessageEnvelope[], routed: readonly Routed[]) {
    outbox.recordStatus(
      envelopes.map((envelope, i) => {
        const { settled, attempts } = routed[i]!;
        if (settled.kind === 'confirmed') {
          return {
            envelope,
            target: settled.target,
            state: 'confirmed' as const,
            attempts,
            receipt: settled.receipt,
          };
        }
        const error =
          settled.kind === 'failed'
            ? { code: settled.error.code, message: settled.error.message }
            : {
                code: settled.reason === 'breaker-open' ? 'GW_ERR_BREAKER_OPEN' : 'GW_ERR_BROKER_UNAVAILABLE',
                message: `target ${settled.target} was not tried: ${settled.reason}`,
              };
        return { envelope, target: settled.target, state: 'failed' as const, attempts, error };
      }),
    );
  }

  function outcomeOf(settled: Settled): DeliveryOutcome {
    switch (settled.kind) {
      case 'confirmed':
        return { kind: 'confirmed', receipt: settled.receipt };
      case 'failed':
        return { kind: 'failed', target: settled.target, error: settled.error };
      case 'unavailable':
        return {
          kind: 'unavailable',
          target: settled.target,
          reason: settled.reason,
          retryAfterMs: settled.retryAfterMs,
        };
    }
  }

  /**
   * A spool route keeps a key's order across an outage: a message whose key still has queued rows
   * for its target (spooled earlier, not yet relayed) is written to the outbox behind them (202)
   * instead of being published past them, even while the target is healthy. Returns the indices
   * it queued; throws the outbox's refusal (503) before anything was published or kept. If the
   * outbox cannot tell, the messages are published (logged): availability over order.
   */
  async function queueBehindKey(
    route: ResolvedRoute,
    envelopes: readonly MessageEnvelope[],
    choices: readonly TargetChoice[],
    signal: AbortSignal,
  ): Promise<number[]> {
    if (route.route.degrade !== 'spool') return [];
    const byTarget = new Map<string, number[]>();
    envelopes.forEach((envelope, i) => {
      if (envelope.key === undefined) return;
      const target = choices[i]!.candidates[0]!;
      const list = byTarget.get(target);
      if (list) list.push(i);
      else byTarget.set(target, [i]);
    });
    const held: number[] = [];
    for (const [target, indices] of byTarget) {
      let queued: ReadonlySet<string>;
      try {
        // The request's deadline bounds a store that waits on I/O (PostgreSQL).
        queued = await outbox.queuedKeys(
          target,
          indices.map((i) => envelopes[i]!.key!),
          signal,
        );
      } catch (error) {
        deps.logger.warn(
          { err: error, target, route: route.route.topic },
          'could not tell whether these keys have spooled messages; publishing them directly (their order relative to spooled ones is not kept)',
        );
        continue;
      }
      for (const i of indices) if (queued.has(envelopes[i]!.key!)) held.push(i);
    }
    if (held.length === 0) return held;
    held.sort((a, b) => a - b);
    const refused = await append(
      held.map((i) => envelopes[i]!),
      held.map((i) => choices[i]!.candidates[0]!),
    );
    if (refused) throw refused;
    metrics.degraded.inc({ route: route.route.topic, action: 'queue-behind-key' }, held.length);
    return held;
  }

  async function sync(
    route: ResolvedRoute,
    all: readonly MessageEnvelope[],
    allChoices: readonly TargetChoice[],
    signal: AbortSignal,
  ): Promise<DeliveryOutcome[]> {
    const held = await queueBehindKey(route, all, allChoices, signal);
    if (held.length === all.length) return all.map(() => ({ kind: 'queued' }));
    const heldSet = new Set(held);
    const rest = all.flatMap((_, i) => (heldSet.has(i) ? [] : [i]));
    const envelopes = held.length === 0 ? all : rest.map((i) => all[i]!);
    const choices = held.length === 0 ? allChoices : rest.map((i) => allChoices[i]!);
    const routed = await publishRouted(route, envelopes, choices, signal, now() + deps.publishTimeoutMs);
    const outcomes = routed.map(({ settled }) => outcomeOf(settled));
    const degraded = routed.flatMap(({ settled }, i) => (degradable(settled) ? [i] : []));
    const degrade = route.route.degrade;
    if (degraded.length > 0 && degrade !== 'failover') {
      metrics.degraded.inc({ route: route.route.topic, action: degrade }, degraded.length);
    }
    if (degraded.length > 0 && degrade === 'spool') {
      // Into the outbox for the message's first candidate: the relay publishes it once the target is back.
      const refused = await append(
        degraded.map((i) => envelopes[i]!),
        degraded.map((i) => choices[i]!.candidates[0]!),
      );
      if (refused) {
        deps.logger.warn(
          { route: route.route.topic, code: refused.code, detail: refused.message },
          'could not spool messages the broker did not take; answering with the broker error',
        );
      } else {
        for (const i of degraded) outcomes[i] = { kind: 'queued' };
      }
    }
    const recorded = envelopes.flatMap((_, i) => (outcomes[i]!.kind === 'queued' ? [] : [i]));
    record(
      recorded.map((i) => envelopes[i]!),
      recorded.map((i) => routed[i]!),
    );
    if (held.length === 0) return outcomes;
    const merged = all.map((): DeliveryOutcome => ({ kind: 'queued' }));
    rest.forEach((i, k) => (merged[i] = outcomes[k]!));
    return merged;
  }

  /** Delivers messages that are not delayed, in `mode`. */
  async function deliverNow(
    route: ResolvedRoute,
    envelopes: readonly MessageEnvelope[],
    choices: readonly TargetChoice[],
    mode: DeliveryMode,
    signal: AbortSignal,
  ): Promise<DeliveryOutcome[]> {
    if (mode === 'async') {
      const refused = await append(
        envelopes,
        choices.map((choice) => choice.candidates[0]!),
      );
      if (refused) throw refused;
      mirror(envelopes, choices, signal);
      return envelopes.map(() => ({ kind: 'queued' }));
    }
    if (mode === 'fire-and-forget') {
      // Not the request's signal: the request is answered before this publish ends.
      const background = AbortSignal.timeout(deps.publishTimeoutMs);
      const deadline = now() + deps.publishTimeoutMs;
      mirror(envelopes, choices, background);
      track(
        publishRouted(route, envelopes, choices, background, deadline)
          .then((routed) => {
            const lost = routed.filter(({ settled }) => settled.kind !== 'confirmed').length;
            if (lost > 0) {
              deps.logger.warn(
                { route: route.route.topic, lost },
                'fire-and-forget messages were not published (lost)',
              );
            }
            record(envelopes, routed);
          })
          .catch((error: unknown) => deps.logger.error({ err: error }, 'fire-and-forget publish failed')),
      );
      return envelopes.map(() => ({ kind: 'accepted' }));
    }
    mirror(envelopes, choices, signal);
    return sync(route, envelopes, choices, signal);
  }

  return {
    async deliver(route, envelopes, mode, signal) {
      const choices = envelopes.map((envelope) => route.selector.choose(envelope.key));
      const at = now();
      const delayed = envelopes.flatMap((e, i) => (e.deliverAt !== undefined && e.deliverAt > at ? [i] : []));
      if (delayed.length === 0) return deliverNow(route, envelopes, choices, mode, signal);
      const scheduled = (i: number): DeliveryOutcome => ({
        kind: 'scheduled',
        deliverAt: envelopes[i]!.deliverAt!,
        target: choices[i]!.candidates[0]!,
      });
      const isDelayed = new Set(delayed);
      const rest = envelopes.flatMap((_, i) => (isDelayed.has(i) ? [] : [i]));
      if (mode === 'async') {
        // One write in request order: a key's immediate messages keep their place around its delayed ones.
        const refused = await append(
          envelopes,
          choices.map((choice) => choice.candidates[0]!),
        );
        if (refused) throw refused;
        metrics.delayedMessages.inc({ outcome: 'scheduled' }, delayed.length);
        mirror(
          rest.map((i) => envelopes[i]!),
          rest.map((i) => choices[i]!),
          signal,
        );
        return envelopes.map((_, i) => (isDelayed.has(i) ? scheduled(i) : { kind: 'queued' }));
      }
      const refused = await append(
        delayed.map((i) => envelopes[i]!),
        delayed.map((i) => choices[i]!.candidates[0]!),
      );
      if (refused) throw refused;
      metrics.delayedMessages.inc({ outcome: 'scheduled' }, delayed.length);
      const outcomes = envelopes.map((_, i) => (isDelayed.has(i) ? scheduled(i) : undefined));
      if (rest.length > 0) {
        const immediate = await deliverNow(
          route,
          rest.map((i) => envelopes[i]!),
          rest.map((i) => choices[i]!),
          mode,
          signal,
        );
        rest.forEach((i, k) => (outcomes[i] = immediate[k]!));
      }
      return outcomes as DeliveryOutcome[];
    },
    async drain(timeoutMs) {
      if (background.size === 0) return;
      await Promise.race([Promise.allSettled([...background]), sleep(timeoutMs)]);
    },
  };
}
