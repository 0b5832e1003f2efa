/**
 * The compatible APIs: endpoints in the wire format of clients teams already run (Dapr, Confluent
 * REST Proxy and Strimzi bridge producers, RabbitMQ management publish). Each parses its own request
 * shape and answers in its own format, and runs the same publish pipeline as /v1 in between (auth,
 * ACL, quotas, idempotency, routing, the reliability layer).
 */
import { Router } from 'express';
import { createPublishPipeline } from '../http/publish-pipeline.js';
import type { PublishRoutesDeps } from '../http/publish-routes.js';
import { createConfluentRoutes } from './confluent/routes.js';
import { createDaprRoutes } from './dapr/routes.js';
import { createRabbitmqHttpRoutes } from './rabbitmq-http/routes.js';

export function createCompatRoutes(deps: PublishRoutesDeps): Router {
  const router = Router({ caseSensitive: true, strict: false });
  const pipeline = createPublishPipeline(deps);
  const { compat } = deps.config;
  if (compat.dapr.enabled) router.use(createDaprRoutes(deps, pipeline));
  if (compat.confluent.enabled) router.use(createConfluentRoutes(deps, pipeline));
  if (compat.rabbitmqHttp.enabled) router.use(createRabbitmqHttpRoutes(deps, pipeline));
  return router;
}
