/**
 * The v1 message API: publish one message (raw body), publish a batch (JSON), read messages back
 * from a readable target. Every path runs the same steps in the same order:
 * topic syntax → policies stage 1 (auth, ACL, request quota, bulkhead) → route → media type →
 * body (size) → content → policies stage 2 (message and byte quotas) → publish.
 */
import { Router, type Request, type Response } from 'express';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { isReadable, type MessageEnvelope, type PublishReceipt } from '../../adapters/core/index.js';
import type { Sequencer } from '../../adapters/reliability/sequence.js';
import { runCleanup, type Policy, type PublishContext } from '../../policies/core/index.js';
import type { Idempotency } from '../../policies/idempotency/index.js';
import type { Outbox } from '../../adapters/reliability/outbox/outbox.js';
import { isReservedTopic } from '../broker-facts.js';
import type { DeliveryMode, GatewayConfig, RouteConfig } from '../config/schema.js';
import { gatewayErrorFromAdapter } from '../errors/adapter-errors.js';
import { GatewayError, toProblem, type GatewayErrorCode, type ProblemItem } from '../errors/registry.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { acceptsMediaType, isJsonMediaType, parseMediaType } from '../publish/content-type.js';
import { readCopiedHeaders, readHeader, isWellFormed } from '../publish/header-values.js';
import { batchValueSpans, parseJsonBody, type ByteSpan } from '../publish/json.js';
import type { Publisher } from '../publish/publisher.js';
import type { Delivery, DeliveryOutcome } from '../publish/delivery.js';
import { checkHeaders, checkMessageId, checkMessageKey, checkTopic } from '../publish/validation.js';
import type { ResolvedRoute, Router as TopicRouter } from '../routing.js';
import type { Targets } from '../targets.js';
import { readBody } from './body.js';
import { readBodyOf } from './message-body.js';
import { createPublishSignals } from './publish-signals.js';
import { gatewayErrorFromRejection, PROBLEM_JSON, sendProblem } from './problem.js';
import { requestState } from './request-state.js';

export interface PublishRoutesDeps {
  readonly config: Readonly<GatewayConfig>;
  readonly policy: Policy;
  readonly router: TopicRouter;
  readonly publisher: Publisher;
  readonly targets: Targets;
  readonly metrics: GatewayMetrics;
  readonly now: () => number;
  /** Aborts every in-flight publish when the gateway is forced down. */
  readonly shutdownSignal: AbortSignal;
  /** Stamps pubgate-seq / pubgate-producer on every envelope (adapters/reliability/sequence.ts). */
  readonly sequencer: Pick<Sequencer, 'stamp'>;
  readonly delivery: Delivery;
  readonly idempotency: Idempotency;
  /** Message status lookups (GET /v1/messages/{id}). */
  readonly outbox: Outbox;
  /** Authentication alone (who is calling), for requests that name no topic. */
  readonly authenticate: Policy;
}

/** An answer before it is sent; kept as-is for Idempotency-Key replays. */
interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** HTTP headers always copied onto a message: CloudEvents binary mode and W3C trace context. */
const ALWAYS_COPIED = ['ce-*', 'traceparent', 'tracestate'];

export function createPublishRoutes(deps: PublishRoutesDeps): Router {
  const { config } = deps;
  const { limits } = config;
  const router = Router({ caseSensitive: true, strict: false });
  const signals = createPublishSignals(deps.shutdownSignal);

  /** Steps shared by every operation on a topic: name, policies, route. */
  async function admit(
    req: Request,
    res: Response,
    operation: PublishContext['operation'],
  ): Promise<ResolvedRoute> {
    const topic = String(req.params.topic ?? '');
    const state = requestState(res);
    state.topic = topic;
    // A broker-internal name is refused by the ACL policy with 403 even when it is not a valid
    // topic name here (e.g. a broker's %-prefixed system topics), so callers learn why.
    const invalid = checkTopic(topic, limits);
    if (invalid && !isReservedTopic(topic)) throw invalid;
    const context: PublishContext = {
      requestId: state.requestId,
      operation,
      topic,
      headerNames: Object.keys(req.headers),
      ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }),
      ...(req.ip === undefined ? {} : { clientAddress: req.ip }),
      cleanup: [],
    };
    // Policies may hold resources until the answer is out (a bulkhead slot): release on close.
    res.once('close', () => runCleanup(context));
    state.policyContext = context;
    const outcome = await deps.policy.evaluate(context);
    if (context.principal) state.tenant = context.principal.tenant;
    if (!outcome.ok) throw gatewayErrorFromRejection(outcome.rejection);
    // A tenant namespace may have prefixed the topic: route and publish the prefixed name.
    const routed = context.topic;
    if (routed !== topic) {
      throwIf(checkTopic(routed, limits));
      state.topic = routed;
    }
    const resolved = deps.router.resolve(routed);
    if (!resolved)
      throw new GatewayError('GW_ERR_NO_ROUTE', `no route in the configuration matches topic "${routed}"`);
    return resolved;
  }

  /** Stage 2 of the policies, once the body is read: message and byte quotas. */
  async function admitContent(res: Response, messages: number, bytes: number): Promise<void> {
    const state = requestState(res);
    state.bytes = bytes;
    const context = state.policyContext;
    if (!context || !deps.policy.evaluateContent) return;
    context.messages = messages;
    context.bytes = bytes;
    const outcome = await deps.policy.evaluateContent(context);
    if (!outcome.ok) throw gatewayErrorFromRejection(outcome.rejection);
  }

  function publishSignal(req: Request, res: Response): AbortSignal {
    // Not AbortSignal.any() with the shutdown signal: on Node 20 that leaks per request (publish-signals.ts).
    const publish = signals.create(config.server.publishTimeoutMs);
    res.on('close', () => {
      if (!res.writableFinished) publish.abort(new Error('client closed the connection'));
    });
    return publish.signal;
  }

  function envelopeFor(
    req: Request,
    res: Response,
    route: ResolvedRoute,
    input: {
      id?: string;
      key?: string;
      headers: Record<string, string>;
      payload: Uint8Array;
      contentType: string;
    },
  ): MessageEnvelope {
    return deps.sequencer.stamp({
      id: input.id ?? uuidv7(),
      tenant: requestState(res).tenant!,
      topic: requestState(res).topic!,
      destination: route.destination,
      ...(input.key === undefined ? {} : { key: input.key }),
      payload: input.payload,
      contentType: input.contentType,
      headers: input.headers,
      createdAt: deps.now(),
    });
  }

  function parseIdempotencyKey(req: Request): string | undefined {
    const parsed = deps.idempotency.parseKey(req.headersDistinct['idempotency-key']);
    if (parsed.kind === 'invalid') {
      deps.metrics.idempotency.inc({ outcome: 'invalid' });
      throw new GatewayError('GW_ERR_IDEMPOTENCY_KEY_INVALID', parsed.detail);
    }
    return parsed.kind === 'key' ? parsed.key : undefined;
  }

  /** Which mode serves this request: the route's, or async when asked for (Prefer) and allowed. */
  function deliveryMode(req: Request, route: RouteConfig): { mode: DeliveryMode; applied: boolean } {
    const prefersAsync = (req.headersDistinct.prefer ?? []).some((value) =>
      value.split(',').some(
        (token) =>
          token
            .trim()
            .split(/[;=\s]/, 1)[0]!
            .toLowerCase() === 'respond-async',
      ),
    );
    if (route.delivery === 'async') return { mode: 'async', applied: prefersAsync };
    if (prefersAsync && route.allowAsync) return { mode: 'async', applied: true };
    return { mode: route.delivery, applied: false };
  }

  /**
   * A sync request on a `degrade: reject` route whose every target is cut off by an open breaker
   * is answered before its body is read: nothing would be tried anyway, and an open breaker exists
   * to make that answer cheap (no body read, parse, envelope or store work).
   */
  function refuseWhileCutOff(resolved: ResolvedRoute, mode: DeliveryMode): void {
    if (resolved.route.degrade !== 'reject' || mode !== 'sync') return;
    let soonest: Extract<DeliveryOutcome, { kind: 'unavailable' }> | undefined;
    for (const target of resolved.candidates) {
      const up = deps.publisher.availability(target);
      if (up.ok || up.reason !== 'breaker-open') return;
      if (!soonest || up.retryAfterMs < soonest.retryAfterMs) {
        soonest = { kind: 'unavailable', target, reason: up.reason, retryAfterMs: up.retryAfterMs };
      }
    }
    if (!soonest) return;
    deps.metrics.degraded.inc({ route: resolved.route.topic, action: 'reject' });
    throw errorOf(soonest, config.server.retryAfterSeconds);
  }

  /**
   * Produces the answer, under the Idempotency-Key when there is one: replays a completed answer,
   * refuses a key in flight (409) or reused for another request (422), answers 503 when the store
   * is down, and stores the new answer (5xx answers release the key instead).
   */
  async function respond(
    req: Request,
    res: Response,
    key: string | undefined,
    fingerprint: () => string,
    produce: () => Promise<Answer>,
  ): Promise<void> {
    if (key === undefined) {
      send(res, await produce());
      return;
    }
    const state = requestState(res);
    const decision = await deps.idempotency.begin({
      tenant: state.tenant!,
      method: req.method,
      path: req.path,
      key,
      fingerprint: fingerprint(),
    });
    deps.metrics.idempotency.inc({
      outcome:
        decision.kind === 'proceed' ? 'acquired' : decision.kind === 'replay' ? 'replayed' : decision.kind,
    });
    switch (decision.kind) {
      case 'replay':
        for (const [name, value] of Object.entries(decision.response.headers)) res.setHeader(name, value);
        res.setHeader('idempotent-replayed', 'true');
        res.status(decision.response.status).send(decision.response.body);
        return;
      case 'in-flight':
        throw new GatewayError('GW_ERR_IDEMPOTENCY_IN_FLIGHT', decision.detail, {
          retryAfterSeconds: config.server.retryAfterSeconds,
        });
      case 'mismatch':
        throw new GatewayError('GW_ERR_IDEMPOTENCY_MISMATCH', decision.detail);
      case 'unavailable':
        throw new GatewayError(
          'GW_ERR_STORE_UNAVAILABLE',
          `${decision.detail}; the request was not processed (deduplication is never skipped)`,
          { retryAfterSeconds: config.server.retryAfterSeconds },
        );
      case 'proceed':
        break;
    }
    let answer: Answer;
    try {
      answer = await produce();
    } catch (error) {
      const failure =
        error instanceof GatewayError
          ? error
          : new GatewayError('GW_ERR_INTERNAL', 'internal error', { cause: error });
      const problem = toProblem(failure, {
        instance: req.originalUrl.split('?', 1)[0]!,
        requestId: state.requestId,
      });
      const stored = await decision.finish({
        status: failure.status,
        headers: { 'content-type': PROBLEM_JSON, ...failure.headers },
        body: JSON.stringify(problem),
      });
      if (stored.kind === 'unavailable') deps.metrics.idempotency.inc({ outcome: 'unavailable' });
      throw error;
    }
    const body = JSON.stringify(answer.body);
    const stored = await decision.finish({
      status: answer.status,
      headers: { ...answer.headers, 'content-type': 'application/json; charset=utf-8' },
      body,
    });
    // The message is accepted either way; a later retry could not be deduplicated, so say so in logs.
    if (stored.kind === 'unavailable') deps.metrics.idempotency.inc({ outcome: 'unavailable' });
    send(res, answer);
  }

  function send(res: Response, answer: Answer): void {
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    res.status(answer.status).json(answer.body);
  }

  function acceptedType(route: RouteConfig, header: string | undefined) {
    const media = parseMediaType(header);
    if (!media) {
      throw new GatewayError(
        'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
        `a Content-Type header is required; this route accepts ${route.contentTypes.join(', ')}`,
      );
    }
    if (!acceptsMediaType(route.contentTypes, media.essence)) {
      throw new GatewayError(
        'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
        `content type ${media.essence} is not accepted; this route accepts ${route.contentTypes.join(', ')}`,
      );
    }
    return media;
  }

  router.post('/v1/topics/:topic/messages', async (req, res) => {
    const resolved = await admit(req, res, 'publish');
    const { mode, applied } = deliveryMode(req, resolved.route);
    refuseWhileCutOff(resolved, mode);
    const idempotencyKey = parseIdempotencyKey(req);
    const media = acceptedType(resolved.route, headerText(req, 'content-type', 'GW_ERR_INVALID_HEADER'));
    const id = headerText(req, 'message-id', 'GW_ERR_INVALID_MESSAGE_ID');
    if (id !== undefined) throwIf(checkMessageId(id));
    const key = headerText(req, 'message-key', 'GW_ERR_INVALID_MESSAGE_KEY');
    if (key !== undefined) throwIf(checkMessageKey(key, limits));
    const copied = readCopiedHeaders(req.headersDistinct, [...ALWAYS_COPIED, ...resolved.route.headers]);
    if ('error' in copied) throw copied.error;
    const checked = checkHeaders(copied.headers, limits);
    if ('error' in checked) throw checked.error;

    const payload = await readBody(req, resolved.route.maxBodyBytes, resolved.route.contentEncodings);
    if (isJsonMediaType(media.essence)) {
      const parsed = parseJsonBody(payload, limits.maxJsonDepth);
      if ('error' in parsed) throw parsed.error;
    }
    await admitContent(res, 1, payload.length);
    const envelope = envelopeFor(req, res, resolved, {
      ...(id === undefined ? {} : { id }),
      ...(key === undefined ? {} : { key }),
      headers: checked.headers,
      payload,
      contentType: media.full,
    });
    throwIf(deps.publisher.check(resolved, envelope));

    const fingerprint = () =>
      deps.idempotency.fingerprint({
        topic: envelope.topic,
        body: payload,
        headers: {
          ...checked.headers,
          'content-type': media.full,
          ...(id === undefined ? {} : { 'message-id': id }),
          ...(key === undefined ? {} : { 'message-key': key }),
          mode,
        },
      });
    await respond(req, res, idempotencyKey, fingerprint, async () => {
      const [outcome] = await deps.delivery.deliver(resolved, [envelope], mode, publishSignal(req, res));
      if (outcome!.kind === 'failed' || outcome!.kind === 'unavailable') {
        throw errorOf(outcome!, config.server.retryAfterSeconds);
      }
      const headers: Record<string, string> = { location: statusUrl(envelope.id) };
      if (applied && outcome!.kind === 'queued') headers['preference-applied'] = 'respond-async';
      if (outcome!.kind === 'confirmed') {
        return { status: 201, headers, body: confirmedBody(envelope, outcome!.receipt) };
      }
      return { status: 202, headers, body: pendingBody(envelope, outcome!) };
    });
  });

  router.post('/v1/topics/:topic/messages/batch', async (req, res) => {
    const resolved = await admit(req, res, 'publish');
    const { mode, applied } = deliveryMode(req, resolved.route);
    refuseWhileCutOff(resolved, mode);
    const idempotencyKey = parseIdempotencyKey(req);
    acceptedType(
      { ...resolved.route, contentTypes: ['application/json'] },
      headerText(req, 'content-type', 'GW_ERR_INVALID_HEADER'),
    );
    const body = await readBody(req, resolved.route.maxBodyBytes, resolved.route.contentEncodings);
    const parsed = parseJsonBody(body, limits.maxJsonDepth + 3);
    if ('error' in parsed) throw parsed.error;
    const batch = batchSchema(limits.maxBatchMessages).safeParse(parsed.value);
    if (!batch.success) {
      throw new GatewayError('GW_ERR_INVALID_BATCH', describeZodError(batch.error));
    }
    await admitContent(res, batch.data.messages.length, body.length);

    // Each value is published as the bytes the client wrote for it, never re-serialized.
    const spans = batchValueSpans(body) ?? [];
    const problems: { index: number; error: GatewayError }[] = [];
    const envelopes: MessageEnvelope[] = [];
    const ids = new Set<string>();
    batch.data.messages.forEach((message, index) => {
      const built = batchEnvelope(req, res, resolved, message, body, spans[index]);
      if ('error' in built) {
        problems.push({ index, error: built.error });
        return;
      }
      // `index` is the message's place in the request, whatever was refused before it.
      if (ids.has(built.envelope.id)) {
        problems.push({
          index,
          error: new GatewayError('GW_ERR_INVALID_MESSAGE_ID', `id ${built.envelope.id} appears twice`),
        });
      }
      ids.add(built.envelope.id);
      envelopes.push(built.envelope);
    });
    if (problems.length > 0) throw batchProblem(problems);

    const fingerprint = () =>
      deps.idempotency.fingerprint({ topic: requestState(res).topic!, body, headers: { mode } });
    await respond(req, res, idempotencyKey, fingerprint, async () => {
      const outcomes = await deps.delivery.deliver(resolved, envelopes, mode, publishSignal(req, res));
      const failures = outcomes.flatMap((outcome, index) =>
        outcome.kind === 'failed' || outcome.kind === 'unavailable' ? [{ index, outcome }] : [],
      );
      if (failures.length === outcomes.length) {
        // Nothing was accepted: answer like a single publish would, listing each message's error.
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
      const pending = outcomes.some((o) => o.kind === 'queued' || o.kind === 'accepted');
      const headers: Record<string, string> = {};
      if (applied && outcomes.some((o) => o.kind === 'queued'))
        headers['preference-applied'] = 'respond-async';
      return {
        status: failures.length > 0 ? 207 : pending ? 202 : 201,
        headers,
        body: {
          topic: state.topic,
          // Every result names its status URL (a batch answer has no single Location).
          results: outcomes.map((outcome, index) => {
            const envelope = envelopes[index]!;
            const url = statusUrl(envelope.id);
            if (outcome.kind === 'confirmed') {
              return { index, ...confirmedBody(envelope, outcome.receipt), statusUrl: url };
            }
            if (outcome.kind === 'queued' || outcome.kind === 'accepted') {
              return { index, ...pendingBody(envelope, outcome) };
            }
            const error = errorOf(outcome, config.server.retryAfterSeconds);
            return {
              index,
              id: envelope.id,
              status: 'failed',
              statusUrl: url,
              error: toProblem(error, { requestId: state.requestId }),
            };
          }),
        },
      };
    });
  });

  router.get('/v1/messages/:id', async (req, res) => {
    const state = requestState(res);
    const context: PublishContext = {
      requestId: state.requestId,
      operation: 'read',
      topic: '',
      headerNames: Object.keys(req.headers),
      ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }),
    };
    const outcome = await deps.authenticate.evaluate(context);
    if (context.principal) state.tenant = context.principal.tenant;
    if (!outcome.ok) throw gatewayErrorFromRejection(outcome.rejection);
    const id = String(req.params.id ?? '');
    let status;
    try {
      status = await deps.outbox.status(context.principal!.tenant, id);
    } catch (error) {
      throw new GatewayError(
        'GW_ERR_OUTBOX_UNAVAILABLE',
        `message status is unavailable: ${(error as Error).message}`,
        {
          retryAfterSeconds: config.server.retryAfterSeconds,
        },
      );
    }
    // Another tenant's message is indistinguishable from an unknown one.
    if (!status) throw new GatewayError('GW_ERR_NOT_FOUND', `no message ${id} is known for your tenant`);
    state.topic = status.topic;
    res.json({
      id: status.id,
      topic: status.topic,
      status: status.state,
      attempts: status.attempts,
      ...(status.receipt === undefined ? {} : { receipt: receiptBody(status.receipt) }),
      ...(status.lastError === undefined ? {} : { lastError: status.lastError }),
      createdAt: new Date(status.createdAt).toISOString(),
      updatedAt: new Date(status.updatedAt).toISOString(),
    });
  });

  router.get('/v1/topics/:topic/messages', async (req, res) => {
    const resolved = await admit(req, res, 'read');
    const adapter = deps.targets.get(resolved.target);
    if (!isReadable(adapter)) {
      throw new GatewayError(
        'GW_ERR_TOPIC_NOT_READABLE',
        `topic "${requestState(res).topic}" is routed to target ${resolved.target} (${adapter.kind}), which is read with that broker's own consumers`,
        { headers: { Allow: 'POST' } },
      );
    }
    const from = queryInteger(req, 'from', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = queryInteger(req, 'limit', 100, 1, 1000);
    const messages = await adapter.read(resolved.destination, { from: BigInt(from), limit });
    const last = messages.at(-1);
    res.json({
      topic: requestState(res).topic,
      messages: messages.map(readBodyOf),
      nextOffset: last === undefined ? String(from) : (BigInt(last.offset) + 1n).toString(),
    });
  });

  for (const path of ['/v1/topics/:topic/messages', '/v1/topics/:topic/messages/batch']) {
    const allow = path.endsWith('batch') ? 'POST' : 'GET, POST';
    router.all(path, (req, res) => {
      sendProblem(
        req,
        res,
        new GatewayError('GW_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allow}`, {
          headers: { Allow: allow },
        }),
      );
    });
  }

  function batchEnvelope(
    req: Request,
    res: Response,
    route: ResolvedRoute,
    message: BatchMessage,
    body: Uint8Array,
    valueSpan: ByteSpan | undefined,
  ): { envelope: MessageEnvelope } | { error: GatewayError } {
    if (message.id !== undefined) {
      const bad = checkMessageId(message.id);
      if (bad) return { error: bad };
    }
    if (message.key !== undefined) {
      const bad = checkMessageKey(message.key, limits);
      if (bad) return { error: bad };
    }
    const headers = checkHeaders(message.headers ?? {}, limits);
    if ('error' in headers) return headers;
    let payload: Uint8Array;
    let contentType: string;
    if (message.valueBase64 !== undefined) {
      payload = Buffer.from(message.valueBase64, 'base64');
      contentType = message.contentType ?? 'application/octet-stream';
    } else if (
      typeof message.value === 'string' &&
      message.contentType !== undefined &&
      !isJson(message.contentType)
    ) {
      // Sent as text: the decoded string's UTF-8, which an unpaired surrogate does not have.
      if (!isWellFormed(message.value)) {
        return {
          error: new GatewayError(
            'GW_ERR_INVALID_BATCH',
            `the value is sent as ${message.contentType} text and must be well-formed Unicode (it contains an unpaired surrogate)`,
          ),
        };
      }
      payload = Buffer.from(message.value, 'utf8');
      contentType = message.contentType;
    } else {
      if (!valueSpan) throw new Error('batch value without a byte span');
      payload = Buffer.from(body.subarray(valueSpan.start, valueSpan.end));
      contentType = message.contentType ?? 'application/json';
    }
    const media = parseMediaType(contentType);
    if (!media || !acceptsMediaType(route.route.contentTypes, media.essence)) {
      return {
        error: new GatewayError(
          'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
          `content type ${contentType} is not accepted; this route accepts ${route.route.contentTypes.join(', ')}`,
        ),
      };
    }
    const envelope = envelopeFor(req, res, route, {
      ...(message.id === undefined ? {} : { id: message.id }),
      ...(message.key === undefined ? {} : { key: message.key }),
      headers: headers.headers,
      payload,
      contentType,
    });
    const tooLarge = deps.publisher.check(route, envelope);
    return tooLarge ? { error: tooLarge } : { envelope };
  }

  return router;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function batchSchema(maxMessages: number) {
  return z.strictObject({
    messages: z
      .array(
        z
          .strictObject({
            id: z.string().optional(),
            key: z.string().optional(),
            // Not z.record: it copies into a plain object, which drops a "__proto__" name. The
            // object JSON.parse made is kept as is; checkHeaders judges every name.
            headers: z
              .custom<Record<string, unknown>>(isJsonObject, 'must be an object of header names to strings')
              .optional(),
            value: z.unknown().optional(),
            valueBase64: z
              .string()
              .refine((s) => s.length % 4 === 0 && BASE64.test(s), 'must be standard base64')
              .optional(),
            contentType: z.string().min(1).optional(),
          })
          .refine((m) => (m.value === undefined) !== (m.valueBase64 === undefined), {
            message: 'each message needs exactly one of "value" or "valueBase64"',
          }),
      )
      .min(1, 'a batch needs at least one message')
      .max(maxMessages, `a batch holds at most ${maxMessages} messages`),
  });
}

type BatchMessage = z.infer<ReturnType<typeof batchSchema>>['messages'][number];

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isJson(contentType: string): boolean {
  const media = parseMediaType(contentType);
  return media !== undefined && isJsonMediaType(media.essence);
}

function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}

function batchProblem(problems: { index: number; error: GatewayError }[]): GatewayError {
  problems.sort((a, b) => a.index - b.index);
  const items: ProblemItem[] = problems.map(({ index, error }) => ({
    index,
    code: error.code,
    detail: error.message,
  }));
  const statuses = new Set(problems.map((p) => p.error.status));
  const codes = new Set(problems.map((p) => p.error.code));
  const summary = `${problems.length} message(s) in the batch are invalid; nothing was published`;
  if (codes.size === 1) return new GatewayError(problems[0]!.error.code, summary, { errors: items });
  if (statuses.size === 1 && problems[0]!.error.status !== 400) {
    return new GatewayError(problems[0]!.error.code, summary, { errors: items });
  }
  return new GatewayError('GW_ERR_INVALID_BATCH', summary, { errors: items });
}

/**
 * The answer for a message that was not accepted: the broker's error, or — for a target that was
 * not tried — 503 GW_ERR_BREAKER_OPEN with Retry-After = the time until the breaker's probe
 * (rounded up, at least 1 s), or GW_ERR_BROKER_UNAVAILABLE for a target that never connected.
 */
function errorOf(
  outcome: Extract<DeliveryOutcome, { kind: 'failed' | 'unavailable' }>,
  retryAfterSeconds: number,
): GatewayError {
  if (outcome.kind === 'failed') {
    return gatewayErrorFromAdapter(outcome.error, outcome.target, retryAfterSeconds);
  }
  if (outcome.reason === 'breaker-open') {
    return new GatewayError(
      'GW_ERR_BREAKER_OPEN',
      `target ${outcome.target} is cut off by its circuit breaker after repeated broker failures; nothing was kept`,
      { retryAfterSeconds: Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)) },
    );
  }
  return new GatewayError(
    'GW_ERR_BROKER_UNAVAILABLE',
    `target ${outcome.target} has not connected to its broker yet; nothing was kept`,
    { retryAfterSeconds },
  );
}

function confirmedBody(envelope: MessageEnvelope, receipt: PublishReceipt) {
  return {
    id: envelope.id,
    topic: envelope.topic,
    status: 'confirmed' as const,
    receipt: receiptBody(receipt),
  };
}

function receiptBody(receipt: PublishReceipt) {
  const { broker, target, partition, offset, brokerMessageId } = receipt;
  return {
    broker,
    target,
    ...(partition === undefined ? {} : { partition }),
    ...(offset === undefined ? {} : { offset }),
    ...(brokerMessageId === undefined ? {} : { brokerMessageId }),
  };
}

function statusUrl(id: string): string {
  return `/v1/messages/${encodeURIComponent(id)}`;
}

/** 202 bodies: `queued` (in the outbox, durable) or `accepted` (fire-and-forget, not durable). */
function pendingBody(
  envelope: MessageEnvelope,
  outcome: Extract<DeliveryOutcome, { kind: 'queued' | 'accepted' }>,
) {
  return { id: envelope.id, topic: envelope.topic, status: outcome.kind, statusUrl: statusUrl(envelope.id) };
}

/** A header's value as the client sent it (UTF-8; see publish/header-values.ts), or undefined. */
function headerText(req: Request, name: string, code: GatewayErrorCode): string | undefined {
  const read = readHeader(req.headersDistinct, name, code);
  if ('error' in read) throw read.error;
  return read.value;
}

function queryInteger(req: Request, name: string, fallback: number, min: number, max: number): number {
  const raw = req.query[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new GatewayError(
      'GW_ERR_INVALID_QUERY',
      `query parameter ${name} must be an integer from ${min} to ${max}`,
    );
  }
  return Number(raw);
}

function throwIf(error: GatewayError | undefined): void {
  if (error) throw error;
}
