/**
 * The steps every publishing endpoint shares, whatever its wire format (pubgate's /v1 API and the
 * compatible APIs in gateway/compat/): admission (topic syntax, policies stage 1, route), content
 * admission (policies stage 2), envelope building, the delivery mode, the request's deadline,
 * idempotent answers and the refusal of a route cut off by its breakers. An endpoint parses its own
 * request shape and formats its own answer; everything in between is done here, once.
 */
import type { Request, Response } from 'express';
import { v7 as uuidv7 } from 'uuid';
import type { MessageEnvelope, PublishReceipt } from '../../adapters/core/index.js';
import { runCleanup, type PublishContext } from '../../policies/core/index.js';
import { isReservedTopic } from '../broker-facts.js';
import type { DeliveryMode, RouteConfig } from '../config/schema.js';
import { gatewayErrorFromAdapter } from '../errors/adapter-errors.js';
import { GatewayError, toProblem, type GatewayErrorCode } from '../errors/registry.js';
import { acceptsMediaType, parseMediaType } from '../publish/content-type.js';
import { readHeader } from '../publish/header-values.js';
import type { DeliveryOutcome } from '../publish/delivery.js';
import { checkTopic } from '../publish/validation.js';
import type { ResolvedRoute } from '../routing.js';
import type { PublishRoutesDeps } from './publish-routes.js';
import { answerOnce, type RawAnswer } from './answer-once.js';
import { createPublishSignals } from './publish-signals.js';
import { gatewayErrorFromRejection, PROBLEM_JSON } from './problem.js';
import { requestState } from './request-state.js';

/** An answer before it is sent; kept as-is for Idempotency-Key replays. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** Where admission takes the topic and credential from when not `:topic` and Authorization. */
export interface AdmitFrom {
  readonly topic?: string;
  /** A credential in the form Authorization carries (`Bearer …`), e.g. from dapr-api-token. */
  readonly authorization?: string;
}

export type PublishPipeline = ReturnType<typeof createPublishPipeline>;

export function createPublishPipeline(deps: PublishRoutesDeps) {
  const { config } = deps;
  const { limits } = config;
  const signals = createPublishSignals(deps.shutdownSignal);

  /** Steps shared by every operation on a topic: name, policies, route. */
  async function admit(
    req: Request,
    res: Response,
    operation: PublishContext['operation'],
    from: AdmitFrom = {},
  ): Promise<ResolvedRoute> {
    const topic = from.topic ?? String(req.params.topic ?? '');
    const authorization = from.authorization ?? req.headers.authorization;
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
      ...(authorization === undefined ? {} : { authorization }),
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
    res: Response,
    route: ResolvedRoute,
    input: {
      id?: string;
      key?: string;
      headers: Record<string, string>;
      payload: Uint8Array;
      contentType: string;
      /** Delayed delivery: when the message is due (epoch ms); see publish/delay.ts. */
      deliverAt?: number;
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
      ...(input.deliverAt === undefined ? {} : { deliverAt: input.deliverAt }),
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
    const errorAnswer = (error: unknown): RawAnswer => {
      const failure =
        error instanceof GatewayError
          ? error
          : new GatewayError('GW_ERR_INTERNAL', 'internal error', { cause: error });
      const problem = toProblem(failure, {
        instance: req.originalUrl.split('?', 1)[0]!,
        requestId: requestState(res).requestId,
      });
      return {
        status: failure.status,
        headers: { 'content-type': PROBLEM_JSON, ...failure.headers },
        body: JSON.stringify(problem),
      };
    };
    await answerOnce({ deps, errorAnswer }, req, res, key, fingerprint, async () => {
      const answer = await produce();
      return {
        status: answer.status,
        headers: { ...answer.headers, 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(answer.body),
      };
    });
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

  /** Delivers envelopes of one request within its deadline (aborted if the client goes away). */
  function deliver(
    req: Request,
    res: Response,
    resolved: ResolvedRoute,
    envelopes: MessageEnvelope[],
    mode: DeliveryMode,
  ): Promise<DeliveryOutcome[]> {
    return deps.delivery.deliver(resolved, envelopes, mode, publishSignal(req, res));
  }

  /** The Transaction-Id of a publish (a transaction of the caller's tenant), or undefined. */
  function transactionOf(req: Request): string | undefined {
    const id = headerText(req, 'transaction-id', 'GW_ERR_INVALID_HEADER');
    if (id !== undefined && !deps.config.transactions.enabled) {
      throw new GatewayError(
        'GW_ERR_INVALID_TRANSACTION',
        'transactions are switched off (transactions.enabled)',
      );
    }
    return id;
  }

  /**
   * Prepares validated messages in transaction `transactionId` instead of delivering them: stored
   * durably, invisible to consumers until a commit. 202 `prepared`, per message for a batch.
   */
  async function prepare(
    res: Response,
    transactionId: string,
    envelopes: readonly MessageEnvelope[],
    batch: boolean,
  ): Promise<Answer> {
    const tenant = requestState(res).tenant!;
    let outcome;
    try {
      outcome = await deps.transactions.prepare(tenant, transactionId, envelopes);
    } catch (error) {
      throw new GatewayError(
        'GW_ERR_TRANSACTION_STORE_UNAVAILABLE',
        `the transaction store cannot be used: ${(error as Error).message}; nothing was kept`,
        { retryAfterSeconds: config.server.retryAfterSeconds, cause: error },
      );
    }
    if (outcome.kind === 'unknown') {
      throw new GatewayError('GW_ERR_NOT_FOUND', `no transaction ${transactionId} is known for your tenant`);
    }
    if (outcome.kind === 'not-open') {
      throw new GatewayError(
        'GW_ERR_TRANSACTION_CONFLICT',
        `transaction ${transactionId} is ${outcome.record.state}: it takes no more messages; nothing was kept`,
      );
    }
    if (outcome.kind === 'full') {
      throw new GatewayError(
        'GW_ERR_TRANSACTION_FULL',
        `transaction ${transactionId} holds ${outcome.record.messages} messages and may hold at most ${config.transactions.maxMessages}; nothing was kept`,
      );
    }
    const prepared = (envelope: MessageEnvelope) => ({
      id: envelope.id,
      topic: envelope.topic,
      status: 'prepared' as const,
      transactionId,
      statusUrl: statusUrl(envelope.id),
    });
    if (!batch) {
      return {
        status: 202,
        headers: { location: statusUrl(envelopes[0]!.id) },
        body: prepared(envelopes[0]!),
      };
    }
    return {
      status: 202,
      headers: {},
      body: {
        topic: envelopes[0]!.topic,
        results: envelopes.map((envelope, index) => ({ index, ...prepared(envelope) })),
      },
    };
  }

  return {
    admit,
    admitContent,
    acceptedType,
    deliver,
    prepare,
    transactionOf,
    deliveryMode,
    envelopeFor,
    parseIdempotencyKey,
    publishSignal,
    refuseWhileCutOff,
    respond,
    send,
  };
}

/**
 * The answer for a message that was not accepted: the broker's error, or — for a target that was
 * not tried — 503 GW_ERR_BREAKER_OPEN with Retry-After = the time until the breaker's probe
 * (rounded up, at least 1 s), or GW_ERR_BROKER_UNAVAILABLE for a target that never connected.
 */
export function errorOf(
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

export function confirmedBody(envelope: MessageEnvelope, receipt: PublishReceipt) {
  return {
    id: envelope.id,
    topic: envelope.topic,
    status: 'confirmed' as const,
    receipt: receiptBody(receipt),
  };
}

export function receiptBody(receipt: PublishReceipt) {
  const { broker, target, partition, offset, brokerMessageId } = receipt;
  return {
    broker,
    target,
    ...(partition === undefined ? {} : { partition }),
    ...(offset === undefined ? {} : { offset }),
    ...(brokerMessageId === undefined ? {} : { brokerMessageId }),
  };
}

export function statusUrl(id: string): string {
  return `/v1/messages/${encodeURIComponent(id)}`;
}

/**
 * 202 bodies: `queued` (in the outbox, durable), `accepted` (fire-and-forget, not durable) or
 * `scheduled` (delayed: in the outbox, durable, published once due; `delay` names the path taken).
 */
export function pendingBody(
  envelope: MessageEnvelope,
  outcome: Extract<DeliveryOutcome, { kind: 'queued' | 'accepted' | 'scheduled' }>,
) {
  return {
    id: envelope.id,
    topic: envelope.topic,
    status: outcome.kind,
    ...(outcome.kind === 'scheduled'
      ? { deliverAt: new Date(outcome.deliverAt).toISOString(), delay: 'emulated' as const }
      : {}),
    statusUrl: statusUrl(envelope.id),
  };
}

/** A header's value as the client sent it (UTF-8; see publish/header-values.ts), or undefined. */
export function headerText(req: Request, name: string, code: GatewayErrorCode): string | undefined {
  const read = readHeader(req.headersDistinct, name, code);
  if ('error' in read) throw read.error;
  return read.value;
}

export function throwIf(error: GatewayError | undefined): void {
  if (error) throw error;
}
