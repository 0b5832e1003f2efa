/**
 * CloudEvents structured and batched mode on POST /v1/topics/{topic}/messages (binary mode is the
 * ordinary single publish, see publish-routes.ts). Called by the single-publish handler once the
 * request is admitted (topic, policies, route, delivery mode, delay, Idempotency-Key); the same
 * steps follow as for any publish: body → events → content policies → envelopes → delivery.
 * A structured event is answered like a single publish (201/202), a batch like the v1 batch
 * (per-event results, 201/202/207), each event being one message whose id is the event id.
 */
import type { Request, Response } from 'express';
import type { MessageEnvelope } from '../../adapters/core/index.js';
import type { DeliveryMode } from '../config/schema.js';
import { GatewayError, toProblem, type ProblemItem } from '../errors/registry.js';
import {
  BATCH_MEDIA_TYPE,
  binaryHeaders,
  cloudEventsFormat,
  parseEventBatch,
  parseStructuredEvent,
  STRUCTURED_CONTENT_TYPE,
  STRUCTURED_MEDIA_TYPE,
  structuredEvent,
  type CloudEventParts,
  type Result,
} from '../publish/cloudevents.js';
import { acceptsMediaType, parseMediaType } from '../publish/content-type.js';
import { readCopiedHeaders } from '../publish/header-values.js';
import { validatePayload } from '../publish/payload-schema.js';
import { checkHeaders, checkMessageId, checkMessageKey } from '../publish/validation.js';
import type { ResolvedRoute } from '../routing.js';
import { readBody } from './body.js';
import {
  confirmedBody,
  errorOf,
  headerText,
  pendingBody,
  statusUrl,
  throwIf,
  type PublishPipeline,
} from './publish-pipeline.js';
import type { PublishRoutesDeps } from './publish-routes.js';
import { requestState } from './request-state.js';

/** Request headers copied onto each event's message; the event's attributes come from the body. */
const COPIED = ['traceparent', 'tracestate'];

export { cloudEventsFormat };

export interface CloudEventsRequest {
  readonly mode: DeliveryMode;
  readonly applied: boolean;
  readonly idempotencyKey: string | undefined;
  /** Delayed delivery asked for with Deliver-After / Deliver-At (epoch ms). */
  readonly deliverAt?: number;
}

export function createCloudEventsPublish(deps: PublishRoutesDeps, pipeline: PublishPipeline) {
  const { config } = deps;
  const { limits } = config;

  /**
   * Publishes the structured event or the batch of events of the request, whose Content-Type
   * names a CloudEvents format (cloudEventsFormat).
   */
  async function publish(
    req: Request,
    res: Response,
    resolved: ResolvedRoute,
    request: CloudEventsRequest,
  ): Promise<void> {
    const contentType = headerText(req, 'content-type', 'GW_ERR_INVALID_HEADER')!;
    const format = cloudEventsFormat(contentType)!;
    const media = parseMediaType(contentType);
    const expected = format === 'batch' ? BATCH_MEDIA_TYPE : STRUCTURED_MEDIA_TYPE;
    if (media?.essence !== expected) {
      throw new GatewayError(
        'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
        `CloudEvents event format ${media?.essence ?? contentType} is not supported; use ${STRUCTURED_MEDIA_TYPE}, ${BATCH_MEDIA_TYPE} or binary mode`,
      );
    }
    const messageId = headerText(req, 'message-id', 'GW_ERR_INVALID_MESSAGE_ID');
    if (messageId !== undefined && format === 'batch') {
      throw new GatewayError(
        'GW_ERR_INVALID_MESSAGE_ID',
        'a batch of events takes its message ids from the events; Message-Id is not allowed',
      );
    }
    const key = headerText(req, 'message-key', 'GW_ERR_INVALID_MESSAGE_KEY');
    if (key !== undefined) throwIf(checkMessageKey(key, limits));
    const copied = readCopiedHeaders(req.headersDistinct, [
      ...COPIED,
      ...resolved.route.headers.filter((name) => !name.toLowerCase().startsWith('ce-')),
    ]);
    if ('error' in copied) throw copied.error;
    const checked = checkHeaders(copied.headers, limits);
    if ('error' in checked) throw checked.error;

    const body = await readBody(req, resolved.route.maxBodyBytes, resolved.route.contentEncodings);
    let events: Result<CloudEventParts>[];
    if (format === 'structured') {
      const event = parseStructuredEvent(body, limits.maxJsonDepth);
      if ('error' in event) throw event.error;
      if (messageId !== undefined && messageId !== event.value.id) {
        throw new GatewayError(
          'GW_ERR_INVALID_MESSAGE_ID',
          `Message-Id ${messageId} differs from the event id ${event.value.id}; the event id is the message id`,
        );
      }
      events = [event];
    } else {
      const batch = parseEventBatch(body, limits.maxJsonDepth, limits.maxBatchMessages);
      if ('error' in batch) throw batch.error;
      events = batch.value;
    }
    await admitEvents(res, events.length, body.length);

    const problems: { index: number; error: GatewayError }[] = [];
    const envelopes: MessageEnvelope[] = [];
    const ids = new Set<string>();
    events.forEach((event, index) => {
      const built = 'error' in event ? event : envelopeOf(res, resolved, event.value, checked.headers, key);
      if ('error' in built) {
        problems.push({ index, error: built.error });
        return;
      }
      if (ids.has(built.value.id)) {
        problems.push({
          index,
          error: new GatewayError('GW_ERR_INVALID_MESSAGE_ID', `event id ${built.value.id} appears twice`),
        });
      }
      ids.add(built.value.id);
      envelopes.push(
        request.deliverAt === undefined ? built.value : { ...built.value, deliverAt: request.deliverAt },
      );
    });
    if (problems.length > 0) {
      throw format === 'structured' ? problems[0]!.error : eventsProblem(problems);
    }

    const fingerprint = () =>
      deps.idempotency.fingerprint({
        topic: requestState(res).topic!,
        body,
        headers: {
          ...checked.headers,
          'content-type': contentType,
          ...(key === undefined ? {} : { 'message-key': key }),
          ...(messageId === undefined ? {} : { 'message-id': messageId }),
          ...delayHeaders(req),
          mode: request.mode,
        },
      });
    await pipeline.respond(req, res, request.idempotencyKey, fingerprint, async () => {
      const outcomes = await pipeline.deliver(req, res, resolved, envelopes, request.mode);
      if (format === 'structured') {
        const outcome = outcomes[0]!;
        const envelope = envelopes[0]!;
        if (outcome.kind === 'failed' || outcome.kind === 'unavailable') {
          throw errorOf(outcome, config.server.retryAfterSeconds);
        }
        const headers: Record<string, string> = { location: statusUrl(envelope.id) };
        if (request.applied && outcome.kind === 'queued') headers['preference-applied'] = 'respond-async';
        if (outcome.kind === 'confirmed') {
          return { status: 201, headers, body: confirmedBody(envelope, outcome.receipt) };
        }
        return { status: 202, headers, body: pendingBody(envelope, outcome) };
      }
      const failures = outcomes.flatMap((outcome, index) =>
        outcome.kind === 'failed' || outcome.kind === 'unavailable' ? [{ index, outcome }] : [],
      );
      if (failures.length === outcomes.length) {
        const errors = failures.map(({ index, outcome }) => ({
          index,
          error: errorOf(outcome, config.server.retryAfterSeconds),
        }));
        const first = errors[0]!.error;
        throw new GatewayError(first.code, first.message, {
          ...(first.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: first.retryAfterSeconds }),
          errors: errors.map(({ index, error }) => ({ index, code: error.code, detail: error.message })),
        });
      }
      const state = requestState(res);
      const pending = outcomes.some(
        (o) => o.kind !== 'confirmed' && o.kind !== 'failed' && o.kind !== 'unavailable',
      );
      const headers: Record<string, string> = {};
      if (request.applied && outcomes.some((o) => o.kind === 'queued')) {
        headers['preference-applied'] = 'respond-async';
      }
      return {
        status: failures.length > 0 ? 207 : pending ? 202 : 201,
        headers,
        body: {
          topic: state.topic,
          results: outcomes.map((outcome, index) => {
            const envelope = envelopes[index]!;
            const url = statusUrl(envelope.id);
            if (outcome.kind === 'confirmed') {
              return { index, ...confirmedBody(envelope, outcome.receipt), statusUrl: url };
            }
            if (outcome.kind === 'failed' || outcome.kind === 'unavailable') {
              const error = errorOf(outcome, config.server.retryAfterSeconds);
              return {
                index,
                id: envelope.id,
                status: 'failed',
                statusUrl: url,
                error: toProblem(error, { requestId: state.requestId }),
              };
            }
            return { index, ...pendingBody(envelope, outcome) };
          }),
        },
      };
    });
  }

  function admitEvents(res: Response, count: number, bytes: number): Promise<void> {
    return pipeline.admitContent(res, count, bytes);
  }

  /** One event's envelope: its content type accepted by the route, its data matching the schema. */
  function envelopeOf(
    res: Response,
    resolved: ResolvedRoute,
    event: CloudEventParts,
    copied: Readonly<Record<string, string>>,
    key: string | undefined,
  ): Result<MessageEnvelope> {
    const { route } = resolved;
    const media = parseMediaType(event.contentType)!;
    if (!acceptsMediaType(route.contentTypes, media.essence)) {
      return {
        error: new GatewayError(
          'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
          `datacontenttype ${event.contentType} is not accepted; this route accepts ${route.contentTypes.join(', ')}`,
        ),
      };
    }
    const violation = validatePayload(route, event.payload, event.contentType, event.value);
    if (violation) return { error: violation };
    const partitionKey = key ?? event.attributes.get('partitionkey');
    if (partitionKey !== undefined && key === undefined) {
      const bad = checkMessageKey(partitionKey, limits);
      if (bad) return { error: bad };
    }
    const bad = checkMessageId(event.id);
    if (bad) return { error: bad };
    const structured = route.cloudEvents.mode === 'structured';
    let headers: Record<string, string> = { ...copied };
    if (!structured) {
      const checked = checkHeaders(binaryHeaders(event.attributes, copied), limits);
      if ('error' in checked) return checked;
      headers = checked.headers;
    }
    const envelope = pipeline.envelopeFor(res, resolved, {
      id: event.id,
      ...(partitionKey === undefined ? {} : { key: partitionKey }),
      headers,
      payload: structured ? structuredEvent(event) : event.payload,
      contentType: structured ? STRUCTURED_CONTENT_TYPE : event.contentType,
    });
    const tooLarge = deps.publisher.check(resolved, envelope);
    return tooLarge ? { error: tooLarge } : { value: envelope };
  }

  return { publish };
}

function delayHeaders(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['deliver-after', 'deliver-at']) {
    const value = req.headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/** Like the v1 batch: every refused event listed (schema violations one by one), nothing published. */
function eventsProblem(problems: { index: number; error: GatewayError }[]): GatewayError {
  problems.sort((a, b) => a.index - b.index);
  const items: ProblemItem[] = problems.flatMap(({ index, error }) =>
    error.errors !== undefined && error.errors.length > 0
      ? error.errors.map((item) => ({ ...item, index }))
      : [{ index, code: error.code, detail: error.message }],
  );
  const codes = new Set(problems.map((p) => p.error.code));
  const statuses = new Set(problems.map((p) => p.error.status));
  const summary = `${problems.length} event(s) in the batch are invalid; nothing was published`;
  if (codes.size === 1 || (statuses.size === 1 && problems[0]!.error.status !== 400)) {
    return new GatewayError(problems[0]!.error.code, summary, { errors: items });
  }
  return new GatewayError('GW_ERR_INVALID_CLOUDEVENT', summary, { errors: items });
}
