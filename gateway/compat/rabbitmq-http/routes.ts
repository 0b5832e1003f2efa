/**
 * RabbitMQ management publish, `POST /api/exchanges/{vhost}/{exchange}/publish`; see README.md here.
 * Unlike RabbitMQ's, the answer comes only after the broker confirmed the message (a publisher
 * confirm on RabbitMQ, the broker's ack elsewhere), through the same pipeline as /v1: auth/ACL/
 * quota policies, the route, Idempotency-Key, the reliability layer.
 *
 * The topic comes from the body (routing_key), so the caller is authenticated before the body is
 * read (bounded by the largest route body limit), and the topic's policies and route run once it
 * is known; the route's own body limit is then applied to what was read.
 */
import { Router, type Request, type Response } from 'express';
import type { PublishContext } from '../../../policies/core/index.js';
import { GatewayError } from '../../errors/registry.js';
import { readBody } from '../../http/body.js';
import { errorOf, statusUrl, throwIf, type PublishPipeline } from '../../http/publish-pipeline.js';
import type { PublishRoutesDeps } from '../../http/publish-routes.js';
import { gatewayErrorFromRejection } from '../../http/problem.js';
import { requestState } from '../../http/request-state.js';
import { acceptsMediaType, isJsonMediaType, parseMediaType } from '../../publish/content-type.js';
import { parseJsonBody } from '../../publish/json.js';
import { validatePayload } from '../../publish/payload-schema.js';
import { answerOnce } from '../../http/answer-once.js';
import { authorizationOf } from '../basic-auth.js';
import { createManagementErrorHandler, errorAnswer, JSON_TYPE, objectNotFound } from './errors.js';
import { parsePublishRequest } from './request.js';

const PUBLISH = '/api/exchanges/:vhost/:exchange/publish';

/** The RabbitMQ management publish endpoint; see README.md in this folder. */
export function createRabbitmqHttpRoutes(deps: PublishRoutesDeps, pipeline: PublishPipeline): Router {
  const router = Router({ caseSensitive: true, strict: false });
  const options = deps.config.compat.rabbitmqHttp;
  const { limits } = deps.config;
  const logger = deps.logger;

  // Exchange → topic template: the configured map, then each rabbitmq target's own exchange.
  const exchanges = new Map<string, string>();
  for (const broker of Object.values(
    deps.config.brokers as Record<string, { kind: string; exchange?: unknown }>,
  )) {
    if (broker.kind === 'rabbitmq' && typeof broker.exchange === 'string')
      exchanges.set(broker.exchange, '{routing_key}');
  }
  for (const [exchange, template] of Object.entries(options.exchanges)) exchanges.set(exchange, template);
  const vhosts = new Set(options.vhosts);
  const bodyLimit = Math.max(...deps.config.routes.map((route) => route.maxBodyBytes));
  const encodings = [...new Set(deps.config.routes.flatMap((route) => route.contentEncodings))];

  router.post(PUBLISH, async (req, res) => {
    const auth = authorizationOf(req.headers.authorization);
    if (auth.kind === 'malformed') throw new GatewayError('GW_ERR_UNAUTHENTICATED', auth.detail);
    const authorization = auth.kind === 'basic' ? auth.credential.authorization : auth.authorization;
    const tenant = await authenticate(req, res, authorization);
    if (
      options.basicAuthUsername === 'tenant' &&
      auth.kind === 'basic' &&
      auth.credential.username !== tenant
    ) {
      throw new GatewayError('GW_ERR_UNAUTHENTICATED', 'the username must be the tenant of the API key');
    }
    const vhost = String(req.params.vhost ?? '');
    const exchange = String(req.params.exchange ?? '');
    if (!vhosts.has(vhost)) throw objectNotFound(`vhost ${vhost} is not served here`);
    const template = exchanges.get(exchange);
    if (template === undefined) throw objectNotFound(`exchange ${exchange} in vhost ${vhost} is not known`);
    const media = parseMediaType(req.headers['content-type']);
    if (media !== undefined && !isJsonMediaType(media.essence)) {
      throw new GatewayError(
        'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
        `send the publish request as application/json, not ${media.essence}`,
      );
    }

    const body = await readBody(req, bodyLimit, encodings);
    const parsed = parseJsonBody(body, limits.maxJsonDepth + 3);
    if ('error' in parsed) throw parsed.error;
    const request = parsePublishRequest(parsed.value, limits);
    if ('error' in request) throw request.error;
    const topic = template.split('{routing_key}').join(request.routingKey);

    const resolved = await pipeline.admit(req, res, 'publish', {
      topic,
      ...(authorization === undefined ? {} : { authorization }),
    });
    if (body.length > resolved.route.maxBodyBytes) {
      throw new GatewayError(
        'GW_ERR_BODY_TOO_LARGE',
        `the body is ${body.length} bytes, more than this route's limit of ${resolved.route.maxBodyBytes} bytes`,
      );
    }
    const { mode } = pipeline.deliveryMode(req, resolved.route);
    pipeline.refuseWhileCutOff(resolved, mode);
    const idempotencyKey = pipeline.parseIdempotencyKey(req);
    const payloadType = parseMediaType(request.contentType);
    if (!payloadType)
      throw new GatewayError(
        'GW_ERR_BAD_REQUEST',
        `properties.content_type ${request.contentType} is not a media type`,
      );
    if (!acceptsMediaType(resolved.route.contentTypes, payloadType.essence)) {
      throw new GatewayError(
        'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
        `content type ${payloadType.essence} is not accepted; this route accepts ${resolved.route.contentTypes.join(', ')}`,
      );
    }
    if (isJsonMediaType(payloadType.essence)) {
      // As for /v1: a payload declared JSON must be JSON.
      const json = parseJsonBody(request.payload, limits.maxJsonDepth);
      if ('error' in json) throw json.error;
      // The route's JSON Schema (routes[].schema), as on every publishing endpoint.
      throwIf(validatePayload(resolved.route, request.payload, request.contentType, json.value));
    }
    await pipeline.admitContent(res, 1, request.payload.length);
    const envelope = pipeline.envelopeFor(res, resolved, {
      ...(request.id === undefined ? {} : { id: request.id }),
      headers: request.headers,
      payload: request.payload,
      contentType: request.contentType,
    });
    throwIf(deps.publisher.check(resolved, envelope));

    const fingerprint = () =>
      deps.idempotency.fingerprint({
        topic: requestState(res).topic!,
        body,
        headers: { mode, vhost, exchange },
      });
    await answerOnce({ deps, errorAnswer }, req, res, idempotencyKey, fingerprint, async () => {
      const [outcome] = await pipeline.deliver(req, res, resolved, [envelope], mode);
      const headers = { 'content-type': JSON_TYPE };
      switch (outcome!.kind) {
        case 'confirmed':
          return { status: 200, headers, body: JSON.stringify({ routed: true }) };
        case 'queued':
        case 'accepted':
        case 'scheduled':
          // Durable in the outbox (or handed over, fire-and-forget) but not routed yet: say so.
          return {
            status: 202,
            headers: { ...headers, location: statusUrl(envelope.id) },
            body: JSON.stringify({
              routed: false,
              queued: true,
              id: envelope.id,
              statusUrl: statusUrl(envelope.id),
            }),
          };
        case 'failed':
          // RabbitMQ's own answer for a message no queue is bound to receive: nothing was kept.
          if (outcome!.error.code === 'ADP_ERR_UNROUTABLE') {
            return { status: 200, headers, body: JSON.stringify({ routed: false }) };
          }
          throw errorOf(outcome!, deps.config.server.retryAfterSeconds);
        case 'unavailable':
          throw errorOf(outcome!, deps.config.server.retryAfterSeconds);
        default:
          throw new Error(`unexpected delivery outcome ${(outcome as { kind: string }).kind}`);
      }
    });
  });

  /** Who is calling (the tenant), before the body names the topic. */
  async function authenticate(
    req: Request,
    res: Response,
    authorization: string | undefined,
  ): Promise<string> {
    const state = requestState(res);
    const context: PublishContext = {
      requestId: state.requestId,
      operation: 'publish',
      topic: '',
      headerNames: Object.keys(req.headers),
      ...(authorization === undefined ? {} : { authorization }),
    };
    const outcome = await deps.authenticate.evaluate(context);
    if (!outcome.ok) throw gatewayErrorFromRejection(outcome.rejection);
    return context.principal!.tenant;
  }

  router.use(createManagementErrorHandler(logger));
  return router;
}
