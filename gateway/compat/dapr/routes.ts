/**
 * The Dapr pub/sub HTTP API (see README.md in this folder): single and bulk publish, metadata and
 * health, answering as a Dapr sidecar does, so unchanged `@dapr/dapr` clients publish through
 * pubgate. Underneath, every publish runs the shared pipeline like /v1: topic checks, policies
 * (auth via dapr-api-token, ACL, quotas, bulkhead), route, content quotas, idempotency, delivery
 * through the reliability layer.
 */
import { Router, type Request, type Response } from 'express';
import { v7 as uuidv7 } from 'uuid';
import type { MessageEnvelope } from '../../../adapters/core/index.js';
import { answerOnce as answerUnderKey } from '../../http/answer-once.js';
import type { PublishContext } from '../../../policies/core/index.js';
import { compileTopicPattern, type TopicMatcher } from '../../../policies/acl/topic-pattern.js';
import { GatewayError } from '../../errors/registry.js';
import { readBody } from '../../http/body.js';
import { gatewayErrorFromRejection } from '../../http/problem.js';
import { errorOf, headerText, throwIf, type PublishPipeline } from '../../http/publish-pipeline.js';
import type { PublishRoutesDeps } from '../../http/publish-routes.js';
import { requestState } from '../../http/request-state.js';
import { acceptsMediaType, isJsonMediaType, parseMediaType } from '../../publish/content-type.js';
import { readCopiedHeaders } from '../../publish/header-values.js';
import { parseJsonBody } from '../../publish/json.js';
import type { DeliveryOutcome } from '../../publish/delivery.js';
import { checkHeaders, checkMessageId, checkMessageKey, checkTopic } from '../../publish/validation.js';
import type { ResolvedRoute } from '../../routing.js';
import {
  checkCloudEvent,
  CLOUDEVENTS_JSON,
  cloudEventError,
  metadataFromQuery,
  readMetadata,
  wrapInCloudEvent,
  type PublishMetadata,
} from './cloudevent.js';
import type { DaprCompatConfig } from './config.js';
import {
  createDaprErrorHandler,
  daprErrorOf,
  DaprError,
  errorAnswer,
  JSON_TYPE,
  toDaprError,
  type FailedEntry,
} from './errors.js';
import { eventSpans } from './event-spans.js';

/** The header TTL travels in until the envelope has a TTL field (adapters/core/envelope.ts). */
export const TTL_HEADER = 'pubgate-ttl-seconds';

/** Request headers copied onto every message (W3C trace context), plus the route's `headers`. */
const COPIED = ['traceparent', 'tracestate'];

interface Pubsub {
  readonly name: string;
  readonly matchers: readonly TopicMatcher[];
  readonly prefix: string;
}

/** A message ready to publish, and what its retry is recognized by. */
interface Prepared {
  readonly envelope: MessageEnvelope;
  /** The CloudEvent id the client chose (its own CloudEvent, or cloudevent.id), if any. */
  readonly clientId?: string;
}

export function createDaprRoutes(deps: PublishRoutesDeps, pipeline: PublishPipeline): Router {
  const { config } = deps;
  const dapr: DaprCompatConfig = config.compat.dapr;
  const { limits } = config;
  const logger = deps.logger;
  const router = Router({ caseSensitive: true, strict: false });
  const pubsubs = new Map<string, Pubsub>(
    Object.entries(dapr.pubsubs).map(([name, options]) => [
      name,
      { name, matchers: options.topics.map(compileTopicPattern), prefix: options.prefix ?? '' },
    ]),
  );

  /** The credential: dapr-api-token (an API key or JWT), else an Authorization header. */
  function authorizationOf(req: Request): string | undefined {
    const tokens = req.headersDistinct['dapr-api-token'];
    if (tokens === undefined || tokens.length === 0) return req.headers.authorization;
    if (tokens.length > 1) {
      throw daprErrorOf(
        new GatewayError('GW_ERR_BAD_REQUEST', 'the dapr-api-token header may be given once'),
      );
    }
    return `Bearer ${tokens[0]!.trim()}`;
  }

  /** Authentication alone, for requests refused before the ACL can run (and for metadata). */
  async function authenticate(req: Request, res: Response): Promise<void> {
    const authorization = authorizationOf(req);
    const context: PublishContext = {
      requestId: requestState(res).requestId,
      operation: 'read',
      topic: '',
      headerNames: Object.keys(req.headers),
      ...(authorization === undefined ? {} : { authorization }),
    };
    const outcome = await deps.authenticate.evaluate(context);
    if (context.principal) requestState(res).tenant = context.principal.tenant;
    if (!outcome.ok) throw gatewayErrorFromRejection(outcome.rejection);
  }

  /** pub/sub name and topic → the routed topic, after the pubsub's checks; then admission. */
  async function admitDapr(
    req: Request,
    res: Response,
  ): Promise<{ resolved: ResolvedRoute; pubsub: Pubsub; daprTopic: string }> {
    const name = String(req.params.pubsub ?? '');
    const segments = req.params.topic as unknown as string[] | string | undefined;
    const daprTopic = Array.isArray(segments) ? segments.join('/') : String(segments ?? '');
    const pubsub = pubsubs.get(name);
    if (!pubsub) {
      await authenticate(req, res);
      throw new DaprError(400, 'ERR_PUBSUB_NOT_FOUND', `pubsub '${name}' not found`);
    }
    const topic = pubsub.prefix + daprTopic;
    throwIf(checkTopic(topic, limits));
    if (!pubsub.matchers.some((matcher) => matcher.match(daprTopic) !== undefined)) {
      await authenticate(req, res);
      throw new DaprError(
        403,
        'ERR_PUBSUB_FORBIDDEN',
        `topic ${daprTopic} is not allowed for pubsub ${name}`,
      );
    }
    const authorization = authorizationOf(req);
    const resolved = await pipeline.admit(req, res, 'publish', {
      topic,
      ...(authorization === undefined ? {} : { authorization }),
    });
    return { resolved, pubsub, daprTopic };
  }

  /** Request headers the message carries: trace context and the route's `headers`. */
  function copiedHeaders(req: Request, resolved: ResolvedRoute): Record<string, string> {
    const copied = readCopiedHeaders(req.headersDistinct, [...COPIED, ...resolved.route.headers]);
    if ('error' in copied) throw copied.error;
    delete copied.headers['dapr-api-token'];
    const checked = checkHeaders(copied.headers, limits);
    if ('error' in checked) throw checked.error;
    return checked.headers;
  }

  /**
   * One message: Dapr's CloudEvent around `data`, the client's own CloudEvent, or the raw bytes.
   * Throws the error the message is refused with.
   */
  function prepare(
    res: Response,
    resolved: ResolvedRoute,
    input: {
      pubsub: Pubsub;
      daprTopic: string;
      data: Uint8Array;
      contentType: string;
      metadata: PublishMetadata;
      headers: Record<string, string>;
      /** The parsed JSON value of a JSON `data`, when the caller already has it. */
      parsed?: unknown;
    },
  ): Prepared {
    const { metadata } = input;
    const media = parseMediaType(input.contentType);
    if (!media) {
      throw daprErrorOf(
        new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', `"${input.contentType}" is not a media type`),
      );
    }
    let parsed = input.parsed;
    if (isJsonMediaType(media.essence) && parsed === undefined) {
      const json = parseJsonBody(input.data, limits.maxJsonDepth);
      if ('error' in json) throw json.error;
      parsed = json.value;
    }
    let id: string;
    let clientId: string | undefined;
    let payload: Uint8Array;
    let contentType: string;
    if (media.essence === CLOUDEVENTS_JSON) {
      // Already a CloudEvent: published as sent (rawPayload or not); its id is the message id.
      clientId = checkCloudEvent(parsed).id;
      id = clientId;
      payload = input.data;
      contentType = media.full;
    } else if (metadata.rawPayload) {
      clientId = metadata.overrides.id;
      id = clientId ?? uuidv7();
      payload = input.data;
      contentType = media.full;
    } else {
      clientId = metadata.overrides.id;
      id = clientId ?? uuidv7();
      payload = wrapInCloudEvent({
        id,
        topic: input.daprTopic,
        pubsubName: input.pubsub.name,
        dataContentType: media.full,
        data: input.data,
        source: dapr.appId,
        now: deps.now(),
        metadata,
        ...(input.headers.traceparent === undefined ? {} : { traceparent: input.headers.traceparent }),
        ...(input.headers.tracestate === undefined ? {} : { tracestate: input.headers.tracestate }),
      });
      contentType = CLOUDEVENTS_JSON;
    }
    if (checkMessageId(id)) {
      throw cloudEventError(
        `the CloudEvent id "${id.slice(0, 64)}" cannot be a pubgate message id: 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit`,
      );
    }
    const stored = parseMediaType(contentType)!;
    if (!acceptsMediaType(resolved.route.contentTypes, stored.essence)) {
      throw new GatewayError(
        'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
        `content type ${stored.essence} is not accepted; this route accepts ${resolved.route.contentTypes.join(', ')}`,
      );
    }
    if (metadata.key !== undefined) throwIf(checkMessageKey(metadata.key, limits));
    const headers = { ...input.headers };
    if (metadata.ttlSeconds !== undefined) headers[TTL_HEADER] = String(metadata.ttlSeconds);
    const envelope = pipeline.envelopeFor(res, resolved, {
      id,
      ...(metadata.key === undefined ? {} : { key: metadata.key }),
      headers,
      payload,
      contentType,
    });
    throwIf(deps.publisher.check(resolved, envelope));
    return { envelope, ...(clientId === undefined ? {} : { clientId }) };
  }

  /**
   * The answer under an idempotency key (the Idempotency-Key header, else the client's CloudEvent
   * id): a retry gets the first answer replayed and nothing is published twice. Answers are stored
   * in Dapr's format (204, or Dapr's error body); 5xx answers release the key.
   */
  function answerOnce(
    req: Request,
    res: Response,
    scope: string,
    key: string | undefined,
    fingerprint: () => string,
    produce: () => Promise<void>,
  ): Promise<void> {
    const errorAnswerOf = (error: unknown) =>
      errorAnswer(toDaprError(error, logger, res), requestState(res).requestId);
    return answerUnderKey(
      { deps, errorAnswer: errorAnswerOf, scope },
      req,
      res,
      key,
      fingerprint,
      async () => {
        await produce();
        return { status: 204, headers: {} };
      },
    );
  }

  /**
   * Whether a message was not accepted. Everything else is accepted durably or by the route's
   * choice: confirmed by the broker, queued (fsync'd in the outbox), or fire-and-forget.
   */
  function isFailure(
    outcome: DeliveryOutcome,
  ): outcome is Extract<DeliveryOutcome, { kind: 'failed' | 'unavailable' }> {
    return outcome.kind === 'failed' || outcome.kind === 'unavailable';
  }

  async function publishOne(req: Request, res: Response): Promise<void> {
    const { resolved, pubsub, daprTopic } = await admitDapr(req, res);
    const { mode } = pipeline.deliveryMode(req, resolved.route);
    pipeline.refuseWhileCutOff(resolved, mode);
    const idempotencyKey = pipeline.parseIdempotencyKey(req);
    const metadata = readMetadata(metadataFromQuery(req.query), dapr.keyMetadata);
    const contentType = headerText(req, 'content-type', 'GW_ERR_INVALID_HEADER') ?? 'text/plain';
    const headers = copiedHeaders(req, resolved);
    const body = await readBody(req, resolved.route.maxBodyBytes, resolved.route.contentEncodings);
    await pipeline.admitContent(res, 1, body.length);
    const { envelope, clientId } = prepare(res, resolved, {
      pubsub,
      daprTopic,
      data: body,
      contentType,
      metadata,
      headers,
    });
    const fingerprint = () =>
      deps.idempotency.fingerprint({
        topic: envelope.topic,
        body,
        headers: {
          ...headers,
          'content-type': contentType,
          query: new URLSearchParams(req.originalUrl.split('?')[1] ?? '').toString(),
          mode,
        },
      });
    const key = idempotencyKey ?? (clientId === undefined ? undefined : `cloudevent:${clientId}`);
    await answerOnce(req, res, `dapr:${pubsub.name}/${envelope.topic}`, key, fingerprint, async () => {
      const [outcome] = await pipeline.deliver(req, res, resolved, [envelope], mode);
      if (isFailure(outcome!)) throw errorOf(outcome!, config.server.retryAfterSeconds);
    });
  }

  async function publishBulk(req: Request, res: Response): Promise<void> {
    const { resolved, pubsub, daprTopic } = await admitDapr(req, res);
    const { mode } = pipeline.deliveryMode(req, resolved.route);
    pipeline.refuseWhileCutOff(resolved, mode);
    const idempotencyKey = pipeline.parseIdempotencyKey(req);
    const queryMetadata = metadataFromQuery(req.query);
    const requestMetadata = readMetadata(queryMetadata, dapr.keyMetadata);
    const declared = parseMediaType(headerText(req, 'content-type', 'GW_ERR_INVALID_HEADER'));
    if (!declared || !isJsonMediaType(declared.essence)) {
      throw daprErrorOf(
        new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', 'a bulk publish body is application/json'),
      );
    }
    const headers = copiedHeaders(req, resolved);
    const body = await readBody(req, resolved.route.maxBodyBytes, resolved.route.contentEncodings);
    // Entries are wrapped one level deeper than a single message's data.
    const json = parseJsonBody(body, limits.maxJsonDepth + 2);
    if ('error' in json) throw new DaprError(400, 'ERR_PUBSUB_EVENTS_SER', json.error.message);
    const entries = readEntries(json.value, limits.maxBatchMessages);
    await pipeline.admitContent(res, entries.length, body.length);
    const spans = eventSpans(body);

    // Each entry's own problems (too large, bad key, media type…) fail that entry only.
    const failed: FailedEntry[] = [];
    const errors: DaprError[] = [];
    const prepared: { entryId: string; envelope: MessageEnvelope }[] = [];
    const ids = new Set<string>();
    entries.forEach((entry, index) => {
      try {
        const span = spans[index];
        if (!span) throw new Error('bulk entry without a byte span');
        const text = typeof entry.event === 'string' && !isJsonMediaType(mediaEssence(entry.contentType));
        const data = text ? Buffer.from(entry.event as string, 'utf8') : body.subarray(span.start, span.end);
        // Per-entry metadata overrides the request's; rawPayload is the request's.
        const metadata = {
          ...readMetadata({ ...queryMetadata, ...entry.metadata }, dapr.keyMetadata),
          rawPayload: requestMetadata.rawPayload,
        };
        const { envelope } = prepare(res, resolved, {
          pubsub,
          daprTopic,
          data,
          contentType: entry.contentType,
          metadata,
          headers,
          ...(text ? {} : { parsed: entry.event }),
        });
        if (ids.has(envelope.id)) throw cloudEventError(`the CloudEvent id ${envelope.id} appears twice`);
        ids.add(envelope.id);
        prepared.push({ entryId: entry.entryId, envelope });
      } catch (error) {
        const dapr = toDaprError(error, logger, res);
        // An entry that is not a valid CloudEvent fails the whole request, as in Dapr.
        if (dapr.errorCode === 'ERR_PUBSUB_CLOUD_EVENTS_SER') throw dapr;
        failed.push(failure(entry.entryId, dapr));
        errors.push(dapr);
      }
    });

    const fingerprint = () =>
      deps.idempotency.fingerprint({
        topic: requestState(res).topic!,
        body,
        headers: { query: new URLSearchParams(req.originalUrl.split('?')[1] ?? '').toString(), mode },
      });
    await answerOnce(
      req,
      res,
      `dapr-bulk:${pubsub.name}/${requestState(res).topic!}`,
      idempotencyKey,
      fingerprint,
      async () => {
        const outcomes =
          prepared.length === 0
            ? []
            : await pipeline.deliver(
                req,
                res,
                resolved,
                prepared.map((p) => p.envelope),
                mode,
              );
        outcomes.forEach((outcome, index) => {
          if (!isFailure(outcome)) return;
          const error = daprErrorOf(errorOf(outcome, config.server.retryAfterSeconds));
          failed.push(failure(prepared[index]!.entryId, error));
          errors.push(error);
        });
        if (failed.length === 0) return;
        // Nothing published: answer with the first error's status (503 keeps Retry-After), else 500.
        const first = errors[0]!;
        const none = failed.length === entries.length;
        throw new DaprError(
          none ? first.status : 500,
          'ERR_PUBSUB_PUBLISH_MESSAGE',
          `${failed.length} of ${entries.length} entries were not published: ${first.message}`,
          {
            reason: first.reason,
            failedEntries: failed,
            ...(none ? { headers: first.headers } : {}),
            ...(none && first.retryAfterSeconds !== undefined
              ? { retryAfterSeconds: first.retryAfterSeconds }
              : {}),
          },
        );
      },
    );
  }

  for (const method of ['post', 'put'] as const) {
    router[method]('/v1.0/publish/:pubsub/*topic', publishOne);
    router[method]('/v1.0-alpha1/publish/bulk/:pubsub/*topic', publishBulk);
  }
  for (const path of ['/v1.0/publish/:pubsub/*topic', '/v1.0-alpha1/publish/bulk/:pubsub/*topic']) {
    router.all(path, () => {
      throw daprErrorOf(
        new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', 'use POST or PUT', { headers: { Allow: 'POST, PUT' } }),
      );
    });
  }

  router.get('/v1.0/metadata', async (req, res) => {
    await authenticate(req, res);
    res
      .status(200)
      .type(JSON_TYPE)
      .send(
        JSON.stringify({
          id: dapr.appId,
          runtimeVersion: 'pubgate',
          enabledFeatures: [],
          components: [...pubsubs.keys()].map((name) => ({
            name,
            type: 'pubsub.pubgate',
            version: 'v1',
            capabilities: ['BULK_PUBLISH'],
          })),
          subscriptions: [],
          httpEndpoints: [],
        }),
      );
  });
  // Unauthenticated, as in Dapr: the process serves (readiness of brokers is /readyz).
  router.get('/v1.0/healthz', (_req, res) => {
    res.status(204).end();
  });
  router.get('/v1.0/healthz/outbound', (_req, res) => {
    res.status(204).end();
  });
  // Anything else under the Dapr prefixes (a publish without topic, say): Dapr's router 404.
  router.all(['/v1.0/*rest', '/v1.0-alpha1/*rest'], (req) => {
    throw new DaprError(404, 'ERR_NOT_FOUND', `no Dapr API at ${req.method} ${req.path}`, {
      reason: 'GW_ERR_NOT_FOUND',
    });
  });
  router.use(createDaprErrorHandler(logger));
  return router;
}

interface BulkEntry {
  readonly entryId: string;
  readonly event: unknown;
  readonly contentType: string;
  readonly metadata: Record<string, string>;
}

/**
 * The entries of a bulk body: keys matched without case, as Dapr's Go decoder does (the JS SDK
 * sends `entryID`, the docs `entryId`). Missing or repeated entry ids → 400 ERR_PUBSUB_EVENTS_SER.
 */
function readEntries(value: unknown, max: number): BulkEntry[] {
  const invalid = (message: string) => new DaprError(400, 'ERR_PUBSUB_EVENTS_SER', message);
  if (!Array.isArray(value)) throw invalid('the body must be a JSON array of entries');
  if (value.length === 0) throw invalid('a bulk publish needs at least one entry');
  if (value.length > max) throw invalid(`a bulk publish holds at most ${max} entries`);
  const seen = new Set<string>();
  return value.map((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw invalid(`entry ${index} must be a JSON object`);
    }
    const field = (name: string): unknown => {
      let found: unknown;
      for (const [key, v] of Object.entries(item as Record<string, unknown>)) {
        if (key.toLowerCase() === name) found = v;
      }
      return found;
    };
    const entryId = field('entryid');
    if (typeof entryId !== 'string' || entryId === '' || seen.has(entryId)) {
      throw invalid(`error: entryId is duplicated or not present for entry ${index}`);
    }
    seen.add(entryId);
    const event = field('event');
    if (event === undefined) throw invalid(`entry ${entryId} has no event`);
    const given = field('contenttype');
    if (given !== undefined && typeof given !== 'string')
      throw invalid(`entry ${entryId}: contentType must be a string`);
    const contentType = given || (typeof event === 'string' ? 'text/plain' : 'application/json');
    const metadata = field('metadata') ?? {};
    if (
      typeof metadata !== 'object' ||
      metadata === null ||
      Array.isArray(metadata) ||
      Object.values(metadata).some((v) => typeof v !== 'string')
    ) {
      throw new DaprError(
        400,
        'ERR_PUBSUB_REQUEST_METADATA',
        `entry ${entryId}: metadata must map names to strings`,
      );
    }
    return { entryId, event, contentType, metadata: { ...(metadata as Record<string, string>) } };
  });
}

function mediaEssence(contentType: string): string {
  return parseMediaType(contentType)?.essence ?? '';
}

function failure(entryId: string, error: DaprError): FailedEntry {
  return { entryId, entryID: entryId, error: `${error.errorCode}: ${error.message}` };
}
