/**
 * Hands envelopes to a route's broker target and turns the outcome into per-message results,
 * recording metrics. The only path from the HTTP layer to an adapter.
 */
import {
  checkMessageSize,
  publishSettled,
  type MessageEnvelope,
  type PublishResult,
} from '../../adapters/core/index.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { ResolvedRoute } from '../routing.js';
import type { Targets } from '../targets.js';
import { GatewayError } from '../errors/registry.js';

export interface Publisher {
  /** Checks the envelopes against the target's declared limits; nothing is sent. */
  check(route: ResolvedRoute, envelope: MessageEnvelope): GatewayError | undefined;
  publish(
    route: ResolvedRoute,
    envelopes: readonly MessageEnvelope[],
    signal: AbortSignal,
  ): Promise<PublishResult[]>;
}

export function createPublisher(deps: { targets: Targets; metrics: GatewayMetrics }): Publisher {
  const { targets, metrics } = deps;
  return {
    check(route, envelope) {
      const { capabilities } = targets.get(route.target);
      if (envelope.destination.length > capabilities.maxDestinationLength) {
        return new GatewayError(
          'GW_ERR_INVALID_TOPIC',
          `the destination "${envelope.destination}" is longer than the ${capabilities.maxDestinationLength} characters target ${route.target} accepts`,
        );
      }
      const tooLarge = checkMessageSize(envelope, capabilities.maxMessageBytes);
      return tooLarge ? new GatewayError('GW_ERR_MESSAGE_TOO_LARGE', tooLarge.message) : undefined;
    },
    async publish(route, envelopes, signal) {
      const adapter = targets.get(route.target);
      const stop = metrics.publishDuration.startTimer({ target: route.target });
      const results = await publishSettled(adapter, envelopes, { signal });
      stop();
      results.forEach((result, i) => {
        metrics.publishMessages.inc({
          target: route.target,
          outcome: result.ok ? 'confirmed' : result.error.code,
        });
        if (result.ok) {
          const envelope = envelopes[i]!;
          metrics.publishBytes.inc(
            { target: route.target, tenant: envelope.tenant },
            envelope.payload.byteLength,
          );
        }
      });
      return results;
    },
  };
}
