/**
 * The v1 message API: publish one message (raw body), publish a batch (JSON), read messages back
 * from a readable target. Every path runs the same steps in the same order:
 * topic syntax → policies stage 1 (auth, ACL, request quota, bulkhead) → route → media type →
 * body (size) → content → policies stage 2 (message and byte quotas) → publish.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { isReadable, type Logger, type MessageEnvelope } from '../../adapters/core/index.js';
import type { Sequencer } from '../../adapters/reliability/sequence.js';
import type { Policy } from '../../policies/core/index.js';
import type { Idempotency } from '../../policies/idempotency/index.js';
import type { Transactions } from '../../adapters/reliability/transactions/coordinator.js';
import type { MessageStatus, Outbox } from '../../adapters/reliability/outbox/outbox.js';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError, toProblem, type ProblemItem } from '../errors/registry.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { acceptsMediaType, isJsonMediaType, parseMediaType } from '../publish/content-type.js';
import { readCopiedHeaders, isWellFormed } from '../publish/header-values.js';
import { batchValueSpans, parseJsonBody, type ByteSpan } from '../publish/json.js';
import type { Publisher } from '../publish/publisher.js';
import type { Delivery } from '../publish/delivery.js';
import { checkHeaders, checkMessageId, checkMessageKey } from '../publish/validation.js';
import { FIELD_NAMES, HEADER_NAMES, resolveDelay } from '../publish/delay.js';
import type { ResolvedRoute, Router as TopicRouter } from '../routing.js';
import type { Targets } from '../targets.js';
import { readBody } from './body.js';
import { authenticatedTenant, preparedStatus } from './transaction-routes.js';
import { binaryEvent, binaryEventOutput } from './cloudevents-binary.js';
import { cloudEventsFormat, createCloudEventsPublish } from './cloudevents-publish.js';
import { readBodyOf } from './message-body.js';
import { validatePayload } from '../publish/payload-schema.js';
import {
  confirmedBody,
  createPublishPipeline,
  errorOf,
  headerText,
  pendingBody,
  receiptBody,
  statusUrl,
  throwIf,
} from './publish-pipeline.js';
import { sendProblem } from './problem.js';
import { requestState } from './request-state.js';

export interface PublishRoutesDeps {
  readonly config: Readonly<GatewayConfig>;
  readonly logger: Logger;
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
  /** Transactional messages: publishes with Transaction-Id are prepared in one. */
  readonly transactions: Transactions;
}

/** HTTP headers always copied onto a message: CloudEvents binary mode and W3C trace context. */
const ALWAYS_COPIED = ['ce-*', 'traceparent', 'tracestate'];

export function createPublishRoutes(deps: PublishRoutesDeps): Router {
  const { config } = deps;
  const { limits } = config;
  const router = Router({ caseSensitive: true, strict: false });

  const pipeline = createPublishPipeline(deps);
  const cloudEvents = createCloudEventsPublish(deps, pipeline);
  const {
    admit,
    admitContent,
    acceptedType,
    deliveryMode,
    envelopeFor,
    parseIdempotencyKey,
    refuseWhileCutOff,
    respond,
  } = pipeline;

  router.post('/v1/topics/:topic/messages', async (req, res) => {
    const resolved = await admit(req, res, 'publish');
    const { mode, applied } = deliveryMode(req, resolved.route);
    // Delayed delivery (Deliver-After / Deliver-At): always via the outbox, so never cut off.
    const delay = {
      after: headerText(req, 'deliver-after', 'GW_ERR_INVALID_DELAY'),
      at: headerText(req, 'deliver-at', 'GW_ERR_INVALID_DELAY'),
    };
    const due = resolveDelay(delay, deps.now(), resolved.route.maxDelay, HEADER_NAMES);
    if ('error' in due) throw due.error;
    if (due.deliverAt === undefined) refuseWhileCutOff(resolved, mode);
    const idempotencyKey = parseIdempotencyKey(req);
    const transactionId = pipeline.transactionOf(req);
    // CloudEvents structured and batched mode (application/cloudevents+json, -batch+json).
    if (cloudEventsFormat(headerText(req, 'content-type', 'GW_ERR_INVALID_HEADER'))) {
      const request = { mode, applied, idempotencyKey };
      await cloudEvents.publish(req, res, resolved, { ...request, ...due });
      return;
    }
    const media = acceptedType(resolved.route, headerText(req, 'content-type', 'GW_ERR_INVALID_HEADER'));
    let id = headerText(req, 'message-id', 'GW_ERR_INVALID_MESSAGE_ID');
    if (id !== undefined) throwIf(checkMessageId(id));
    const key = headerText(req, 'message-key', 'GW_ERR_INVALID_MESSAGE_KEY');
    if (key !== undefined) throwIf(checkMessageKey(key, limits));
    const copied = readCopiedHeaders(req.headersDistinct, [...ALWAYS_COPIED, ...resolved.route.headers]);
    if ('error' in copied) throw copied.error;
    const checked = checkHeaders(copied.headers, limits);
    if ('error' in checked) throw checked.error;
    // CloudEvents binary mode (ce-id or ce-specversion): validated; the event id is the message id.
    const event = binaryEvent(checked.headers, media.full, id);
    if (event) id = event.id;

    const payload = await readBody(req, resolved.route.maxBodyBytes, resolved.route.contentEncodings);
    let value: unknown;
    if (isJsonMediaType(media.essence)) {
      const parsed = parseJsonBody(payload, limits.maxJsonDepth);
      if ('error' in parsed) throw parsed.error;
      value = parsed.value;
    }
    throwIf(validatePayload(resolved.route, payload, media.full, value));
    await admitContent(res, 1, payload.length);
    const output = event ? binaryEventOutput(resolved.route, event, checked.headers, payload) : undefined;
    const envelope = envelopeFor(res, resolved, {
      ...(id === undefined ? {} : { id }),
      ...(key === undefined ? {} : { key }),
      headers: output?.headers ?? checked.headers,
      payload: output?.payload ?? payload,
      contentType: output?.contentType ?? media.full,
      ...(due.deliverAt === undefined ? {} : { deliverAt: due.deliverAt }),
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
          // The delay as asked (not the resolved time), so a retry of the same request matches.
          ...(delay.after === undefined ? {} : { 'deliver-after': delay.after }),
          ...(delay.at === undefined ? {} : { 'deliver-at': delay.at }),
          ...(transactionId === undefined ? {} : { 'transaction-id': transactionId }),
          mode,
        },
      });
    await respond(req, res, idempotencyKey, fingerprint, async () => {
      if (transactionId !== undefined) return pipeline.prepare(res, transactionId, [envelope], false);
      const [outcome] = await pipeline.deliver(req, res, resolved, [envelope], mode);
      if (outcome!.kind === 'failed' || outcome!.kind === 'unavailable') {
        throw errorOf(outcome!, config.server.retryAfterSeconds);
      }
      const headers: Record<string, string> = { location: statusUrl(envelope.id) };
      if (applied && outcome!.kind === 'queued') headers['preference-applied'] = 'respond-async';
      if (outcome!.kind === 'confirmed') {
        return { status: 201, headers, body: confirmedBody(envelope, outcome!.receipt) };
      }
      if (outcome!.kind === 'scheduled') {
        return {
          status: 202,
          headers: { location: statusUrl(envelope.id) },
          body: pendingBody(envelope, outcome!),
        };
      }
      return { status: 202, headers, body: pendingBody(envelope, outcome!) };
    });
  });

  router.post('/v1/topics/:topic/messages/batch', async (req, res) => {
    const resolved = await admit(req, res, 'publish');
    const { mode, applied } = deliveryMode(req, resolved.route);
    refuseWhileCutOff(resolved, mode);
    const idempotencyKey = parseIdempotencyKey(req);
    const transactionId = pipeline.transactionOf(req);
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
      deps.idempotency.fingerprint({
        topic: requestState(res).topic!,
        body,
        headers: { mode, ...(transactionId === undefined ? {} : { 'transaction-id': transactionId }) },
      });
    await respond(req, res, idempotencyKey, fingerprint, async () => {
      if (transactionId !== undefined) return pipeline.prepare(res, transactionId, envelopes, true);
      const outcomes = await pipeline.deliver(req, res, resolved, envelopes, mode);
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
      const pending = outcomes.some(
        (o) => o.kind === 'queued' || o.kind === 'accepted' || o.kind === 'scheduled',
      );
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
            if (outcome.kind === 'queued' || outcome.kind === 'accepted' || outcome.kind === 'scheduled') {
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

  /** The caller's tenant, for requests about a message (no topic, so authentication alone). */
  const messageTenant = (req: Request, res: Response) => authenticatedTenant(deps.authenticate, req, res);

  function outboxUnavailable(what: string, error: unknown): GatewayError {
    return new GatewayError('GW_ERR_OUTBOX_UNAVAILABLE', `${what}: ${(error as Error).message}`, {
      retryAfterSeconds: config.server.retryAfterSeconds,
    });
  }

  router.get('/v1/messages/:id', async (req, res) => {
    const tenant = await messageTenant(req, res);
    const id = String(req.params.id ?? '');
    let status;
    try {
      status = await deps.outbox.status(tenant, id, deps.now());
    } catch (error) {
      throw outboxUnavailable('message status is unavailable', error);
    }
    if (!status) {
      // Not in the outbox: perhaps prepared in a transaction (not committed yet, or rolled back).
      const prepared = await preparedStatus(deps.transactions, tenant, id).catch(() => undefined);
      if (prepared) {
        requestState(res).topic = prepared.topic;
        res.json(prepared);
        return;
      }
    }
    // Another tenant's message is indistinguishable from an unknown one.
    if (!status) throw new GatewayError('GW_ERR_NOT_FOUND', `no message ${id} is known for your tenant`);
    requestState(res).topic = status.topic;
    res.json(statusBody(status));
  });

  // Cancels a scheduled (delayed) message that has not been handed to the broker yet.
  router.delete('/v1/messages/:id', async (req, res) => {
    const tenant = await messageTenant(req, res);
    const id = String(req.params.id ?? '');
    let outcome;
    try {
      outcome = await deps.outbox.cancel(tenant, id, deps.now());
    } catch (error) {
      throw outboxUnavailable('the message cannot be cancelled now', error);
    }
    if (outcome.kind === 'not-found') {
      throw new GatewayError('GW_ERR_NOT_FOUND', `no message ${id} is known for your tenant`);
    }
    requestState(res).topic = outcome.status.topic;
    if (outcome.kind === 'not-cancellable') {
      const { state } = outcome.status;
      throw new GatewayError(
        'GW_ERR_NOT_CANCELLABLE',
        outcome.status.deliverAt === undefined
          ? `message ${id} was not published with a delay (its status is ${state}); only scheduled messages can be cancelled`
          : `message ${id} has been handed to the broker (its status is ${state}); it can no longer be cancelled`,
      );
    }
    deps.metrics.delayedMessages.inc({ outcome: 'cancelled' });
    res.json(statusBody(outcome.status));
  });

  function statusBody(status: MessageStatus) {
    return {
      id: status.id,
      topic: status.topic,
      status: status.state,
      attempts: status.attempts,
      ...(status.receipt === undefined ? {} : { receipt: receiptBody(status.receipt) }),
      ...(status.lastError === undefined ? {} : { lastError: status.lastError }),
      ...(status.deliverAt === undefined
        ? {}
        : { deliverAt: new Date(status.deliverAt).toISOString(), delay: 'emulated' as const }),
      createdAt: new Date(status.createdAt).toISOString(),
      updatedAt: new Date(status.updatedAt).toISOString(),
    };
  }

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
    const due = resolveDelay(
      { after: message.deliverAfter, at: message.deliverAt },
      deps.now(),
      route.route.maxDelay,
      FIELD_NAMES,
    );
    if ('error' in due) return due;
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
    const violation = validatePayload(route.route, payload, contentType);
    if (violation) return { error: violation };
    const media = parseMediaType(contentType);
    if (!media || !acceptsMediaType(route.route.contentTypes, media.essence)) {
      return {
        error: new GatewayError(
          'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
          `content type ${contentType} is not accepted; this route accepts ${route.route.contentTypes.join(', ')}`,
        ),
      };
    }
    const envelope = envelopeFor(res, route, {
      ...(message.id === undefined ? {} : { id: message.id }),
      ...(message.key === undefined ? {} : { key: message.key }),
      headers: headers.headers,
      payload,
      contentType,
      ...(due.deliverAt === undefined ? {} : { deliverAt: due.deliverAt }),
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
            deliverAfter: z.union([z.string(), z.number()]).optional(),
            deliverAt: z.string().optional(),
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
  // A schema violation lists each violation (path, message) under the message's index.
  const items: ProblemItem[] = problems.flatMap(({ index, error }) =>
    error.code === 'GW_ERR_SCHEMA_VIOLATION' && error.errors !== undefined
      ? error.errors.map((item) => ({ ...item, index }))
      : [{ index, code: error.code, detail: error.message }],
  );
  const statuses = new Set(problems.map((p) => p.error.status));
  const codes = new Set(problems.map((p) => p.error.code));
  const summary = `${problems.length} message(s) in the batch are invalid; nothing was published`;
  if (codes.size === 1) return new GatewayError(problems[0]!.error.code, summary, { errors: items });
  if (statuses.size === 1 && problems[0]!.error.status !== 400) {
    return new GatewayError(problems[0]!.error.code, summary, { errors: items });
  }
  return new GatewayError('GW_ERR_INVALID_BATCH', summary, { errors: items });
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
