import { Router } from 'express';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { Targets } from '../targets.js';

export interface SystemRoutesDeps {
  readonly targets: Targets;
  readonly metrics: GatewayMetrics;
  readonly openapi: OpenAPIV3_1.Document;
  readonly isShuttingDown: () => boolean;
  readonly retryAfterSeconds: number;
}

/** Probes and metadata: /livez, /readyz, /metrics, /openapi.json. None needs a credential. */
export function createSystemRoutes(deps: SystemRoutesDeps): Router {
  const router = Router();
  const openapiJson = JSON.stringify(deps.openapi);

  // Alive = the event loop answers. Broker trouble never makes the gateway "dead": restarting it
  // would not help and would drop in-flight work.
  router.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Ready = every broker target is reachable (and we are not shutting down).
  router.get('/readyz', async (_req, res) => {
    const targets = await deps.targets.health(2_000);
    const shuttingDown = deps.isShuttingDown();
    const ready = !shuttingDown && Object.values(targets).every((t) => t.ok);
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
    res.type('application/json').send(openapiJson);
  });

  return router;
}
