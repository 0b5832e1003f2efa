/**
 * Topic → route → broker target(s). Routes are tried in config order; the first whose pattern
 * matches the topic wins. The destination template maps the logical topic onto the broker's name
 * for it. Each route's target strategy (one target, failover list, split, mirror, balance) is built
 * once, so stateful strategies (round robin) keep their place across requests.
 */
import { compileTopicPattern } from '../policies/acl/index.js';
import type { RouteConfig } from './config/schema.js';
import { createTargetSelector, type TargetSelector, type TargetStrategy } from './target-selection.js';

export interface ResolvedRoute {
  readonly route: RouteConfig;
  /** Position in the `routes:` list, for logs. */
  readonly index: number;
  /**
   * The route's primary target: the only one, the first of a failover list or of a split/balance,
   * a mirror's primary. What reads (GET) and messages that name no single target use.
   */
  readonly target: string;
  /** Picks the target(s) of each message. */
  readonly selector: TargetSelector;
  /** Targets a message may be published to and answered from (mirror secondaries excluded). */
  readonly candidates: readonly string[];
  readonly destination: string;
}

export interface Router {
  resolve(topic: string): ResolvedRoute | undefined;
}

/** The strategy a (validated) route names. */
export function strategyOf(route: RouteConfig): TargetStrategy {
  if (route.target !== undefined) return { kind: 'single', target: route.target };
  if (route.failover !== undefined) return { kind: 'failover', targets: route.failover };
  if (route.split !== undefined) {
    return {
      kind: 'split',
      targets: Object.entries(route.split).map(([target, weight]) => ({ target, weight })),
    };
  }
  if (route.mirror !== undefined) {
    return { kind: 'mirror', primary: route.mirror.primary, secondaries: route.mirror.secondaries };
  }
  if (route.balance !== undefined) {
    const { targets, mode } = route.balance;
    return {
      kind: 'balance',
      mode,
      targets: Array.isArray(targets)
        ? targets.map((target) => ({ target, weight: 1 }))
        : Object.entries(targets).map(([target, weight]) => ({ target, weight })),
    };
  }
  throw new Error(`route ${route.topic} names no target`);
}

export function createRouter(routes: readonly RouteConfig[], deps: { random?: () => number } = {}): Router {
  const compiled = routes.map((route, index) => {
    const strategy = strategyOf(route);
    const selector = createTargetSelector(strategy, {
      ...(deps.random ? { random: deps.random } : {}),
      fallbacks: route.degrade === 'failover',
    });
    const candidates = strategy.kind === 'mirror' ? [strategy.primary] : Object.freeze([...selector.targets]);
    return {
      route,
      index,
      selector,
      candidates,
      target: candidates[0]!,
      matcher: compileTopicPattern(route.topic),
    };
  });
  return {
    resolve(topic) {
      for (const { route, index, matcher, selector, candidates, target } of compiled) {
        const captures = matcher.match(topic);
        if (captures === undefined) continue;
        const destination =
          route.destination === undefined ? topic : renderDestination(route.destination, topic, captures);
        return { route, index, target, selector, candidates, destination };
      }
      return undefined;
    },
  };
}

function renderDestination(template: string, topic: string, captures: readonly string[]): string {
  return template.replace(/\{(topic|\d+)\}/g, (_whole, name: string) =>
    name === 'topic' ? topic : (captures[Number(name) - 1] ?? ''),
  );
}
