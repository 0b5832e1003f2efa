import express, { type Express } from 'express';
import type { Logger } from '../../adapters/core/index.js';
import { createCompatRoutes } from '../compat/index.js';
import { GatewayError } from '../errors/registry.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { createAdminRoutes, type AdminRoutesDeps } from './admin-routes.js';
import { createRequestObserver } from './middleware.js';
import { createErrorHandler, sendProblem } from './problem.js';
import { createPublishRoutes, type PublishRoutesDeps } from './publish-routes.js';
import { createReloadRoutes, type ReloadRoutesDeps } from './reload-routes.js';
import { refuseRepeatedSingletons } from './singleton-headers.js';
import { createTransactionRoutes } from './transaction-routes.js';
import { createSystemRoutes, type SystemRoutesDeps } from './system-routes.js';

export interface AppDeps
  extends PublishRoutesDeps, SystemRoutesDeps, Omit<AdminRoutesDeps, 'outbox' | 'now'> {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly trustProxy: boolean;
  /** Live reload through the admin API; absent: no reload endpoint. */
  readonly reloadConfig?: ReloadRoutesDeps['reloadConfig'];
}

/** The express app: request observation, system routes, the v1 API, the compatible APIs, 404 and error handling. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', deps.trustProxy);
  app.set('query parser', 'simple');

  app.use(createRequestObserver(deps));
  app.use(refuseRepeatedSingletons);
  app.use((req, res, next) => {
    // While draining, refuse new publishes quickly and ask the client to go elsewhere.
    if (deps.isShuttingDown() && req.method === 'POST') {
      res.setHeader('Connection', 'close');
      sendProblem(
        req,
        res,
        new GatewayError('GW_ERR_SHUTTING_DOWN', 'the gateway is shutting down; retry shortly'),
      );
      return;
    }
    next();
  });
  app.use(createSystemRoutes(deps));
  app.use(createPublishRoutes(deps));
  if (deps.config.transactions.enabled) app.use(createTransactionRoutes(deps));
  app.use(createCompatRoutes(deps));
  if (deps.adminKeys.length > 0) {
    if (deps.reloadConfig) {
      app.use(createReloadRoutes({ adminKeys: deps.adminKeys, reloadConfig: deps.reloadConfig }));
    }
    app.use(createAdminRoutes(deps));
  }
  app.use((req, res) => {
    sendProblem(req, res, new GatewayError('GW_ERR_NOT_FOUND', `no resource at ${req.method} ${req.path}`));
  });
  app.use(createErrorHandler(deps.logger));
  return app;
}
