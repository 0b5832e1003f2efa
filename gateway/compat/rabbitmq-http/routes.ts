import { Router } from 'express';
import type { PublishRoutesDeps } from '../../http/publish-routes.js';
import type { PublishPipeline } from '../../http/publish-pipeline.js';

/** The rabbitmq-http compatible endpoints; see README.md in this folder. */
export function createRabbitmqHttpRoutes(_deps: PublishRoutesDeps, _pipeline: PublishPipeline): Router {
  return Router({ caseSensitive: true, strict: false });
}
