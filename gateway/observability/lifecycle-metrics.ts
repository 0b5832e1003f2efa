import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics of overload shedding and live reload, registered on the gateway's registry (kept apart
 * from metrics.ts so each concern declares its own).
 */
export interface LifecycleMetrics {
  /** Requests shed under overload, by tenant and priority. */
  readonly shed: Counter<'tenant' | 'priority'>;
  /** Reload attempts by outcome: applied, unchanged, refused. */
  readonly configReloads: Counter<'outcome'>;
  /** Installs the function the load gauge reads at scrape time. */
  setLoad(read: () => number): void;
  /** Sets the generation of the running configuration (1 at start, +1 per applied reload). */
  setGeneration(generation: number): void;
}

export function createLifecycleMetrics(registry: Registry): LifecycleMetrics {
  let readLoad: (() => number) | undefined;
  const generation = new Gauge({
    name: 'pubgate_config_generation',
    help: 'Generation of the running configuration: 1 at start, +1 per applied reload.',
    registers: [registry],
  });
  new Gauge({
    name: 'pubgate_load',
    help: 'Load as the shedder sees it: max(in-flight / overload.maxInFlight, event-loop delay / overload.maxEventLoopDelayMs); 0 when shedding is off.',
    registers: [registry],
    collect() {
      this.set(readLoad ? readLoad() : 0);
    },
  });
  return {
    shed: new Counter({
      name: 'pubgate_shed_total',
      help: 'Requests refused under overload (503 GW_ERR_OVERLOADED), by tenant and priority.',
      labelNames: ['tenant', 'priority'],
      registers: [registry],
    }),
    configReloads: new Counter({
      name: 'pubgate_config_reloads_total',
      help: 'Configuration reloads by outcome: applied, unchanged or refused.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    setLoad(read) {
      readLoad = read;
    },
    setGeneration(value) {
      generation.set(value);
    },
  };
}
