/**
 * Which broker target(s) one message goes to, under a route's strategy:
 *
 * - `single`: one target.
 * - `failover`: an ordered list; the first is used, the next ones only when the route degrades by
 *   failover (breaker open, target unhealthy or a broker failure).
 * - `split`: weighted choice among targets (a canary while moving a topic to another vendor). A
 *   keyed message is placed by a hash of its key, so one key always lands on one target and keeps its
 *   order; a keyless message is placed at random by weight.
 * - `mirror`: the primary decides the answer; every secondary gets a copy whose failures are counted,
 *   not returned (dual writes during a migration).
 * - `balance`: several clusters of one vendor. `round-robin`, `random`, `key-hash` (order-preserving
 *   per key; keyless messages go round robin) or `weighted` (random by weight; keyed messages by hash).
 *
 * With `fallbacks` (a route that degrades by failover), a split or balance choice lists the route's
 * other targets after the chosen one, in config order, so a cut-off cluster's traffic moves to the rest.
 *
 * Pure: no I/O, randomness injected, so the choices are testable.
 */

export interface WeightedTarget {
  readonly target: string;
  readonly weight: number;
}

export type TargetStrategy =
  | { readonly kind: 'single'; readonly target: string }
  | { readonly kind: 'failover'; readonly targets: readonly string[] }
  | { readonly kind: 'split'; readonly targets: readonly WeightedTarget[] }
  | { readonly kind: 'mirror'; readonly primary: string; readonly secondaries: readonly string[] }
  | {
      readonly kind: 'balance';
      readonly mode: 'round-robin' | 'random' | 'key-hash' | 'weighted';
      readonly targets: readonly WeightedTarget[];
    };

export interface TargetChoice {
  /** Targets to try, in order; more than one only for a failover list. */
  readonly candidates: readonly string[];
  /** Targets that get a copy whose outcome does not change the answer. */
  readonly mirrors: readonly string[];
}

export interface TargetSelector {
  choose(key: string | undefined): TargetChoice;
  /** Every target the strategy can name (for validation and health). */
  readonly targets: readonly string[];
}

/** 32-bit FNV-1a: stable across processes and restarts, so a key keeps its target. */
export function hashKey(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function byWeight(targets: readonly WeightedTarget[], point: number): string {
  // point is in [0, total)
  let acc = 0;
  for (const { target, weight } of targets) {
    acc += weight;
    if (point < acc) return target;
  }
  return targets[targets.length - 1]!.target;
}

const NO_MIRRORS: readonly string[] = Object.freeze([]);

export function createTargetSelector(
  strategy: TargetStrategy,
  deps: { random?: () => number; fallbacks?: boolean } = {},
): TargetSelector {
  const random = deps.random ?? Math.random;
  switch (strategy.kind) {
    case 'single': {
      const choice: TargetChoice = Object.freeze({ candidates: [strategy.target], mirrors: NO_MIRRORS });
      return { targets: [strategy.target], choose: () => choice };
    }
    case 'failover': {
      const choice: TargetChoice = Object.freeze({ candidates: [...strategy.targets], mirrors: NO_MIRRORS });
      return { targets: [...strategy.targets], choose: () => choice };
    }
    case 'mirror': {
      const choice: TargetChoice = Object.freeze({
        candidates: [strategy.primary],
        mirrors: [...strategy.secondaries],
      });
      return { targets: [strategy.primary, ...strategy.secondaries], choose: () => choice };
    }
    case 'split':
    case 'balance': {
      const weighted = strategy.targets.filter((t) => t.weight > 0);
      const total = weighted.reduce((sum, t) => sum + t.weight, 0);
      if (weighted.length === 0 || total <= 0) throw new Error('a weighted strategy needs a positive weight');
      const mode = strategy.kind === 'split' ? 'weighted' : strategy.mode;
      // Built once per target: a choice is made per message, on the hot path.
      const choices = new Map<string, TargetChoice>(
        strategy.targets.map(({ target }) => [
          target,
          Object.freeze({
            candidates: deps.fallbacks
              ? [target, ...strategy.targets.map((t) => t.target).filter((t) => t !== target)]
              : [target],
            mirrors: NO_MIRRORS,
          }),
        ]),
      );
      const single = (target: string): TargetChoice => choices.get(target)!;
      let next = 0;
      const roundRobin = () => {
        const target = strategy.targets[next % strategy.targets.length]!.target;
        next = (next + 1) % strategy.targets.length;
        return target;
      };
      return {
        targets: strategy.targets.map((t) => t.target),
        choose(key) {
          switch (mode) {
            case 'round-robin':
              return single(roundRobin());
            case 'random':
              return single(strategy.targets[Math.floor(random() * strategy.targets.length)]!.target);
            case 'key-hash':
              return single(
                key === undefined
                  ? roundRobin()
                  : strategy.targets[hashKey(key) % strategy.targets.length]!.target,
              );
            case 'weighted':
              return single(byWeight(weighted, key === undefined ? random() * total : hashKey(key) % total));
          }
        },
      };
    }
  }
}
