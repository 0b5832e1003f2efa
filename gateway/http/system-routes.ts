import { Router } from 'express';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { GatewayConfig } from '../config/schema.js';
import { strategyOf } from '../routing.js';
import type { Targets } from '../targets.js';

export interface SystemRoutesDeps {
  readonly config: Readonly<GatewayConfig>;
  readonly targets: Targets;
  readonly metrics: GatewayMetrics;
  /**
   * Builds the OpenAPI document of this config generation; called once, on the first
   * GET /openapi.json (the listener is bound by then), and the JSON kept for the generation.
   */
  readonly openapi: () => OpenAPIV3_1.Document;
  readonly isShuttingDown: () => boolean;
  readonly retryAfterSeconds: number;
}

/** Probes and metadata: /livez, /readyz, /metrics, /openapi.json. None needs a credential. */
export function createSystemRoutes(deps: SystemRoutesDeps): Router {
  const router = Router();
  let openapiJson: string | undefined;

  // Alive = the event loop answers. Broker trouble never makes the gateway "dead": restarting it
  // would not help and would drop in-flight work.
  router.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Ready = this gateway can serve its routes: it is not shutting down, and every broker target is
  // reachable or degradable — every route that can send to it spools into the outbox or fails over
  // instead of answering 503. A target that is down behind such routes does not take the gateway out
  // of service (a load balancer pulling every replica would turn one broker outage into a total
  // one); it is reported in the body (`ok: false`, `degradable: true`) and in pubgate_target_up.
  const degradable = degradableTargets(deps.config);
  router.get('/readyz', async (_req, res) => {
    const health = await deps.targets.health(2_000);
    const targets = Object.fromEntries(
      Object.entries(health).map(([name, report]) => [
        name,
        report.ok ? report : { ...report, degradable: degradable.has(name) },
      ]),
    );
    const shuttingDown = deps.isShuttingDown();
    const ready =
      !shuttingDown && Object.entries(health).every(([name, report]) => report.ok || degradable.has(name));
    if (!ready) res.setHeader('Retry-After', String(deps.retryAfterSeconds));
    res.status(ready ? 200 : 503).json({
      status: shuttingDown ? 'shutting-down' : ready ? 'ready' : 'not-ready',
      targets,
    });
  });

  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  router.get('/openapi.json', (_req, res) => {
    openapiJson ??= JSON.stringify(deps.openapi());
    res.type('application/json').send(openapiJson);
  });

  return router;
}

/** Targets every route that can send to them degrades by spooling or failing over. */
export function degradableTargets(config: Readonly<GatewayConfig>): Set<string> {
  const rejecting = new Set<string>();
  const used = new Set<string>();
  for (const route of config.routes) {
    const strategy = strategyOf(route);
    const targets =
      strategy.kind === 'single'
        ? [strategy.target]
        : strategy.kind === 'failover'
          ? strategy.targets
          : strategy.kind === 'mirror'
            ? [strategy.primary]
            : strategy.targets.map((t) => t.target);
    for (const target of targets) {
      used.add(target);
      if (route.degrade === 'reject') rejecting.add(target);
    }
    // A mirror's copies never decide an answer: a secondary that is down costs nothing but copies.
    if (strategy.kind === 'mirror') for (const target of strategy.secondaries) used.add(target);
  }
  return new Set([...used].filter((target) => !rejecting.has(target)));
}
