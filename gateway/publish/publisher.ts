/**
 * Hands envelopes to a broker target and turns the outcome into per-message results, recording
 * metrics. The only path from the HTTP layer (and the relay) to an adapter.
 *
 * `attempt` goes through the target's circuit breaker: while it is open the adapter is not called
 * and the answer says how long until a probe is allowed. Only broker faults count against a target
 * (see isBrokerFault); a caller's mistake never cuts everyone off a healthy broker.
 */
import {
  AdapterError,
  checkMessageSize,
  publishSettled,
  type MessageEnvelope,
  type PublishResult,
} from '../../adapters/core/index.js';
import type { TargetBreakers } from '../../adapters/reliability/breaker/index.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { ResolvedRoute } from '../routing.js';
import type { Targets } from '../targets.js';
import { GatewayError } from '../errors/registry.js';

/** Why a target is not tried: its breaker is open (or probing), or it never connected. */
export type Unavailable = {
  readonly ok: false;
  readonly reason: 'breaker-open' | 'not-connected';
  /** How long until it may be tried again (breaker: until the probe; not connected: unknown, 0). */
  readonly retryAfterMs: number;
};

export type Availability = { readonly ok: true } | Unavailable;

export type Attempt =
  | { readonly kind: 'published'; readonly results: PublishResult[] }
  | ({ readonly kind: 'unavailable' } & Omit<Unavailable, 'ok'>);

export interface Publisher {
  /** Checks an envelope against the limits of every target the route may answer from; nothing is sent. */
  check(route: ResolvedRoute, envelope: MessageEnvelope): GatewayError | undefined;
  /** Cheap, synchronous: may `target` be tried now? */
  availability(target: string): Availability;
  /** One publish call through `target`'s circuit breaker. */
  attempt(target: string, envelopes: readonly MessageEnvelope[], signal: AbortSignal): Promise<Attempt>;
  /** One publish call, bypassing the breaker (nothing is counted for it). */
  publishTo(
    target: string,
    envelopes: readonly MessageEnvelope[],
    signal: AbortSignal,
  ): Promise<PublishResult[]>;
}

/**
 * Whether a failed publish is the broker target's fault, i.e. counts against its breaker: down,
 * timed out, connection lost, pushing back, refusing our credentials, or an unclassified failure.
 * Not: the message (too large, invalid destination), the route's configuration (unroutable: no
 * queue bound — the broker is healthy), a refusal of this message, the gateway closing, or an
 * abort by the caller (client gone); an abort by the publish deadline counts.
 */
export function isBrokerFault(error: AdapterError, signal: AbortSignal): boolean {
  switch (error.code) {
    case 'ADP_ERR_UNAVAILABLE':
    case 'ADP_ERR_TIMEOUT':
    case 'ADP_ERR_CONNECTION_LOST':
    case 'ADP_ERR_BACKPRESSURE':
    case 'ADP_ERR_AUTH':
    case 'ADP_ERR_INTERNAL':
      return true;
    case 'ADP_ERR_ABORTED':
      return signal.aborted && (signal.reason as { name?: unknown } | undefined)?.name === 'TimeoutError';
    default:
      return false;
  }
}

export function createPublisher(deps: {
  targets: Targets;
  metrics: GatewayMetrics;
  breakers: TargetBreakers;
}): Publisher {
  const { targets, metrics, breakers } = deps;

  async function publishTo(
    target: string,
    envelopes: readonly MessageEnvelope[],
    signal: AbortSignal,
  ): Promise<PublishResult[]> {
    const adapter = targets.get(target);
    const stop = metrics.publishDuration.startTimer({ target });
    const results = await publishSettled(adapter, envelopes, { signal });
    stop();
    results.forEach((result, i) => {
      metrics.publishMessages.inc({ target, outcome: result.ok ? 'confirmed' : result.error.code });
      if (result.ok) {
        const envelope = envelopes[i]!;
        metrics.publishBytes.inc({ target, tenant: envelope.tenant }, envelope.payload.byteLength);
      }
    });
    return results;
  }

  return {
    check(route, envelope) {
      for (const target of route.candidates) {
        const { capabilities } = targets.get(target);
        if (envelope.destination.length > capabilities.maxDestinationLength) {
          return new GatewayError(
            'GW_ERR_INVALID_TOPIC',
            `the destination "${envelope.destination}" is longer than the ${capabilities.maxDestinationLength} characters target ${target} accepts`,
          );
        }
        const tooLarge = checkMessageSize(envelope, capabilities.maxMessageBytes);
        if (tooLarge) return new GatewayError('GW_ERR_MESSAGE_TOO_LARGE', tooLarge.message);
      }
      return undefined;
    },
    availability(target) {
      if (!targets.connected(target)) return { ok: false, reason: 'not-connected', retryAfterMs: 0 };
      if (breakers.state(target) === 'open') {
        return { ok: false, reason: 'breaker-open', retryAfterMs: breakers.retryAfterMs(target) };
      }
      return { ok: true };
    },
    async attempt(target, envelopes, signal) {
      const outcome = await breakers.run(
        target,
        () => publishTo(target, envelopes, signal),
        (results) => results.some((r) => !r.ok && isBrokerFault(r.error, signal)),
      );
      if (outcome.ok) return { kind: 'published', results: outcome.value };
      return { kind: 'unavailable', reason: 'breaker-open', retryAfterMs: outcome.retryAfterMs };
    },
    publishTo,
  };
}

/**
 * The relay's publish: through the target's breaker, so relayed publishes count and half-open
 * probes happen even with no HTTP traffic. Refused by the breaker → every message fails retriably
 * (the relay then backs the target off; it also skips targets whose breaker is open).
 */
export async function relayPublish(
  publisher: Pick<Publisher, 'attempt'>,
  target: string,
  envelopes: readonly MessageEnvelope[],
  signal: AbortSignal,
): Promise<PublishResult[]> {
  const tried = await publisher.attempt(target, envelopes, signal);
  if (tried.kind === 'published') return tried.results;
  const error = new AdapterError(
    'ADP_ERR_UNAVAILABLE',
    `target ${target} is cut off by its circuit breaker (probe in ${tried.retryAfterMs} ms)`,
  );
  return envelopes.map(() => ({ ok: false, error }));
}
