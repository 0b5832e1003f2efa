/**
 * The broker adapters of a gateway across config reloads. Each `brokers:` entry lives in its own
 * single-target Targets (gateway/targets.ts), shared by every runtime (config generation) that
 * uses it and reference-counted: a reload whose entry for a name is deep-equal to the running one
 * KEEPS that instance (same connection, no reconnect); a new or changed entry gets a new adapter;
 * an adapter is closed when the last runtime using it has been closed, i.e. after the requests
 * still running on an old config have finished.
 *
 * A changed entry's new adapter is built beside the one it replaces (given it as `replaces`, so a
 * kind that cannot run two adapters on one resource, the embedded broker's file, takes it over),
 * and the reload waits for it to connect (connectNew) before swapping it in: a replacement that
 * does not connect in time refuses the reload, and the old adapter keeps serving.
 */
import { isDeepStrictEqual } from 'node:util';
import type { HealthReport } from '../../adapters/core/index.js';
import type { GatewayConfig } from '../config/schema.js';
import { createTargets, type NotConnected, type Targets } from '../targets.js';

type Brokers = GatewayConfig['brokers'];
type TargetsDeps = Parameters<typeof createTargets>[1];

interface Entry {
  readonly name: string;
  readonly config: Brokers[string];
  readonly targets: Targets;
  users: number;
  connecting?: Promise<void>;
}

/** What a new set of brokers changes, by target name. */
export interface TargetChanges {
  readonly kept: readonly string[];
  readonly added: readonly string[];
  /** Same name, different settings: a new adapter replaces the old one. */
  readonly replaced: readonly string[];
  readonly removed: readonly string[];
}

/**
 * A runtime's view of the pool. connectAll() connects only the adapters not connected before;
 * close() releases this view's hold, closing the adapters no other view uses.
 */
export interface PooledTargets extends Targets {
  readonly changes: TargetChanges;
  /** Makes this view the one the next plan() is compared with. */
  commit(): void;
  /**
   * Connects the adapters this view added or replaced and waits until each is connected, at most
   * `timeoutMs`; resolves those still not connected ([]: all are). Kept adapters are not waited for.
   */
  connectNew(timeoutMs: number): Promise<NotConnected[]>;
}

export interface TargetPool {
  /**
   * Builds the view for `brokers`, reusing deep-equal entries of the last committed view. Throws
   * (after closing what it created) when an adapter cannot be built from its config.
   */
  plan(brokers: Brokers): PooledTargets;
  /** Closes every adapter still open (gateway shutdown). Idempotent. */
  close(): Promise<void>;
}

export function createTargetPool(deps: TargetsDeps): TargetPool {
  let current = new Map<string, Entry>();
  /** Whether a view was committed (running): entries planned after that are built by a reload. */
  let running = false;
  const open = new Set<Entry>();

  async function closeEntry(entry: Entry): Promise<void> {
    if (!open.delete(entry)) return;
    await entry.targets.close();
  }

  return {
    plan(brokers) {
      const entries = new Map<string, Entry>();
      const created: Entry[] = [];
      const changes = { kept: [] as string[], added: [] as string[], replaced: [] as string[], removed: [] };
      try {
        for (const [name, config] of Object.entries(brokers)) {
          const previous = current.get(name);
          if (previous && isDeepStrictEqual(previous.config, config)) {
            entries.set(name, previous);
            changes.kept.push(name);
            continue;
          }
          const targets = createTargets(
            { [name]: config },
            {
              ...deps,
              ...(running ? { pending: true } : {}),
              ...(previous ? { replaces: previous.targets.get(name) } : {}),
            },
          );
          const entry: Entry = { name, config, targets, users: 0 };
          created.push(entry);
          open.add(entry);
          entries.set(name, entry);
          (previous ? changes.replaced : changes.added).push(name);
        }
      } catch (error) {
        for (const entry of created) void closeEntry(entry);
        throw error;
      }
      (changes.removed as string[]).push(...[...current.keys()].filter((name) => !(name in brokers)));
      for (const entry of entries.values()) entry.users += 1;

      let released: Promise<void> | undefined;
      const view: PooledTargets = {
        changes,
        commit() {
          current = entries;
          running = true;
        },
        get(name) {
          const entry = entries.get(name);
          if (!entry) throw new Error(`no broker target named ${name}`);
          return entry.targets.get(name);
        },
        names: () => [...entries.keys()],
        connected: (name) => entries.get(name)?.targets.connected(name) ?? false,
        async connectAll() {
          await Promise.all(
            [...entries.values()].map((entry) => (entry.connecting ??= entry.targets.connectAll())),
          );
        },
        async connectWithin(timeoutMs) {
          void view.connectAll();
          const missing = await Promise.all(
            [...entries.values()].map((e) => e.targets.connectWithin(timeoutMs)),
          );
          return missing.flat();
        },
        async connectNew(timeoutMs) {
          void view.connectAll();
          const missing = await Promise.all(created.map((entry) => entry.targets.connectWithin(timeoutMs)));
          return missing.flat();
        },
        async health(timeoutMs) {
          const reports = await Promise.all([...entries.values()].map((e) => e.targets.health(timeoutMs)));
          return Object.assign({}, ...reports) as Record<string, HealthReport & { kind: string }>;
        },
        close() {
          released ??= (async () => {
            const unused: Entry[] = [];
            for (const entry of entries.values()) {
              entry.users -= 1;
              if (entry.users <= 0) unused.push(entry);
            }
            await Promise.all(unused.map(closeEntry));
          })();
          return released;
        },
      };
      return view;
    },
    async close() {
      await Promise.all([...open].map(closeEntry));
    },
  };
}
