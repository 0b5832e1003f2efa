/**
 * The gateway's circuit breakers: one per broker target, options from `breakers:` (the default,
 * overridden per target), transitions exported as metrics and logged.
 */
import type { Logger } from '../../adapters/core/index.js';
import {
  createTargetBreakers,
  type BreakerOptions,
  type BreakerState,
  type CarriedBreaker,
  type TargetBreakers,
} from '../../adapters/reliability/breaker/index.js';
import type { BreakersConfig } from '../config/schema.js';
import type { GatewayMetrics } from '../observability/metrics.js';

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Each target's options: `breakers.default` with `breakers.targets.<name>` on top. */
export function breakerOptions(
  config: BreakersConfig,
  targets: readonly string[],
): Record<string, BreakerOptions> {
  return Object.fromEntries(targets.map((name) => [name, { ...config.default, ...config.targets[name] }]));
}

export function createGatewayBreakers(
  config: BreakersConfig,
  targets: readonly string[],
  deps: {
    metrics: GatewayMetrics;
    logger: Logger;
    /** The previous generation's breakers of the targets a reload kept (see TargetBreakersDeps). */
    carried?: Readonly<Record<string, CarriedBreaker>>;
  },
): TargetBreakers {
  const options = breakerOptions(config, targets);
  const breakers = createTargetBreakers(options, {
    ...(deps.carried ? { carried: deps.carried } : {}),
    onTransition({ target, from, to }) {
      deps.metrics.breakerState.set({ target }, STATE_VALUE[to]);
      deps.metrics.breakerTransitions.inc({ target, to });
      const fields = { target, from, to };
      if (to === 'open') {
        deps.logger.warn(
          { ...fields, resetTimeoutMs: options[target]!.resetTimeoutMs },
          'circuit breaker opened: the target is cut off until a probe succeeds',
        );
      } else deps.logger.info(fields, `circuit breaker ${to}`);
    },
  });
  for (const name of targets) {
    const state = breakers.state(name);
    deps.metrics.breakerState.set({ target: name }, STATE_VALUE[state]);
    if (state !== 'closed') {
      deps.logger.warn({ target: name, state }, 'circuit breaker state carried over the config reload');
    }
  }
  return breakers;
}
