/**
 * The v1 message API: publish one message (raw body), publish a batch (JSON), read messages back
 * from a readable target. Every path runs the same steps in the same order:
 * topic syntax → policies (auth, ACL) → route → media type → body (size) → content → publish.
 */
import { Router, type Request, type Response } from 'express';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import {
  isReadable,
  type MessageEnvelope,
  type PublishResult,
  type StoredMessage,
} from '../../adapters/core/index.js';
import { isReservedTopic } from '../../policies/acl/index.js';
import type { Policy, PublishContext } from '../../policies/core/index.js';
import type { GatewayConfig, RouteConfig } from '../config/schema.js';
import { gatewayErrorFromAdapter } from '../errors/adapter-errors.js';
import { GatewayError, toProblem, type ProblemItem } from '../errors/registry.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { acceptsMediaType, isJsonMediaType, parseMediaType } from '../publish/content-type.js';
import { parseJsonBody } from '../publish/json.js';
import type { Publisher } from '../publish/publisher.js';
import { checkHeaders, checkMessageId, checkMessageKey, checkTopic } from '../publish/validation.js';
import type { ResolvedRoute, Router as TopicRouter } from '../routing.js';
import type { Targets } from '../targets.js';
import { readBody } from './body.js';
import { gatewayErrorFromRejection, sendProblem } from './problem.js';
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
}

/** HTTP headers always copied onto a message: CloudEvents binary mode and W3C trace context. */
const ALWAYS_COPIED = ['ce-*', 'traceparent', 'tracestate'];

export function createPublishRoutes(deps: PublishRoutesDeps): Router {
  const { config } = deps;
  const { limits } = config;
  const router = Router({ caseSensitive: true, strict: false });

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
    // topic name here (e.g. RocketMQ's %DLQ% topics), so callers learn why.
    const invalid = checkTopic(topic, limits);
    if (invalid && !isReservedTopic(topic)) throw invalid;
    const context: PublishContext = {
      requestId: state.requestId,
      operation,
      topic,
      headerNames: Object.keys(req.headers),
      ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }),
    };
    const outcome = await deps.policy.evaluate(context);
    if (context.principal) state.tenant = context.principal.tenant;
    if (!outcome.ok) throw gatewayErrorFromRejection(outcome.rejection);
    const resolved = deps.router.resolve(topic);
    if (!resolved)
      throw new GatewayError('GW_ERR_NO_ROUTE', `no route in the configuration matches topic "${topic}"`);
    return resolved;
  }

  function publishSignal(req: Request, res: Response): AbortSignal {
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort(new Error('client closed the connection'));
    });
    return AbortSignal.any([
      AbortSignal.timeout(config.server.publishTimeoutMs),
      gone.signal,
      deps.shutdownSignal,
    ]);
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
    return {
      id: input.id ?? uuidv7(),
      tenant: requestState(res).tenant!,
      topic: requestState(res).topic!,
      destination: route.destination,
      ...(input.key === undefined ? {} : { key: input.key }),
      payload: input.payload,
      contentType: input.contentType,
      headers: input.headers,
      createdAt: deps.now(),
    };
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
    const media = acceptedType(resolved.route, req.headers['content-type']);
    const id = singleHeader(req, 'message-id');
    if (id !== undefined) throwIf(checkMessageId(id));
    const key = singleHeader(req, 'message-key');
    if (key !== undefined) throwIf(checkMessageKey(key, limits));
    const copied = copiedHeaders(req, [...ALWAYS_COPIED, ...resolved.route.headers]);
    const checked = checkHeaders(copied, limits);
    if ('error' in checked) throw checked.error;

    const payload = await readBody(req, resolved.route.maxBodyBytes);
    if (isJsonMediaType(media.essence)) {
      const parsed = parseJsonBody(payload, limits.maxJsonDepth);
      if ('error' in parsed) throw parsed.error;
    }
    const envelope = envelopeFor(req, res, resolved, {
      ...(id === undefined ? {} : { id }),
      ...(key === undefined ? {} : { key }),
      headers: checked.headers,
      payload,
      contentType: media.full,
    });
    throwIf(deps.publisher.check(resolved, envelope));

    const [result] = await deps.publisher.publish(resolved, [envelope], publishSignal(req, res));
    if (!result!.ok) {
      throw gatewayErrorFromAdapter(result!.error, resolved.target, config.server.retryAfterSeconds);
    }
    res.status(201).location(`/v1/messages/${envelope.id}`).json(confirmedBody(envelope, result!));
  });

  router.post('/v1/topics/:topic/messages/batch', async (req, res) => {
    const resolved = await admit(req, res, 'publish');
    acceptedType({ ...resolved.route, contentTypes: ['application/json'] }, req.headers['content-type']);
    const body = await readBody(req, resolved.route.maxBodyBytes);
    const parsed = parseJsonBody(body, limits.maxJsonDepth + 3);
    if ('error' in parsed) throw parsed.error;
    const batch = batchSchema(limits.maxBatchMessages).safeParse(parsed.value);
    if (!batch.success) {
      throw new GatewayError('GW_ERR_INVALID_BATCH', describeZodError(batch.error));
    }

    const problems: { index: number; error: GatewayError }[] = [];
    const envelopes: MessageEnvelope[] = [];
    batch.data.messages.forEach((message, index) => {
      const built = batchEnvelope(req, res, resolved, message);
      if ('error' in built) problems.push({ index, error: built.error });
      else envelopes.push(built.envelope);
    });
    const ids = new Set<string>();
    envelopes.forEach((envelope, index) => {
      if (ids.has(envelope.id)) {
        problems.push({
          index,
          error: new GatewayError('GW_ERR_INVALID_MESSAGE_ID', `id ${envelope.id} appears twice`),
        });
      }
      ids.add(envelope.id);
    });
    if (problems.length > 0) throw batchProblem(problems);

    const results = await deps.publisher.publish(resolved, envelopes, publishSignal(req, res));
    const failures = results.flatMap((result, index) => (result.ok ? [] : [{ index, result }]));
    if (failures.length === results.length) {
      // Nothing was confirmed: answer like a single publish would, listing each message's error.
      const first = failures[0]!.result as Extract<PublishResult, { ok: false }>;
      const error = gatewayErrorFromAdapter(first.error, resolved.target, config.server.retryAfterSeconds);
      throw new GatewayError(error.code, error.message, {
        ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
        errors: failures.map(({ index, result }) => {
          const item = gatewayErrorFromAdapter(
            (result as Extract<PublishResult, { ok: false }>).error,
            resolved.target,
            config.server.retryAfterSeconds,
          );
          return { index, code: item.code, detail: item.message };
        }),
      });
    }
    const state = requestState(res);
    res.status(failures.length === 0 ? 201 : 207).json({
      topic: state.topic,
      results: results.map((result, index) => {
        const envelope = envelopes[index]!;
        if (result.ok) return { index, ...confirmedBody(envelope, result) };
        const error = gatewayErrorFromAdapter(result.error, resolved.target, config.server.retryAfterSeconds);
        return {
          index,
          id: envelope.id,
          status: 'failed',
          error: toProblem(error, { requestId: state.requestId }),
        };
      }),
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
      payload = Buffer.from(message.value, 'utf8');
      contentType = message.contentType;
    } else {
      payload = Buffer.from(JSON.stringify(message.value), 'utf8');
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
            headers: z.record(z.string(), z.unknown()).optional(),
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

function confirmedBody(envelope: MessageEnvelope, result: Extract<PublishResult, { ok: true }>) {
  const { broker, target, partition, offset, brokerMessageId } = result.receipt;
  return {
    id: envelope.id,
    topic: envelope.topic,
    status: 'confirmed' as const,
    receipt: {
      broker,
      target,
      ...(partition === undefined ? {} : { partition }),
      ...(offset === undefined ? {} : { offset }),
      ...(brokerMessageId === undefined ? {} : { brokerMessageId }),
    },
  };
}

function readBodyOf(message: StoredMessage) {
  const media = parseMediaType(message.contentType);
  const textual =
    media !== undefined && (isJsonMediaType(media.essence) || media.essence.startsWith('text/'));
  const payload = Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength);
  return {
    offset: message.offset,
    id: message.id,
    ...(message.key === undefined ? {} : { key: message.key }),
    headers: message.headers,
    contentType: message.contentType,
    ...(textual ? { value: payload.toString('utf8') } : { valueBase64: payload.toString('base64') }),
    timestamp: new Date(message.createdAt).toISOString(),
  };
}

function singleHeader(req: Request, name: string): string | undefined {
  const raw = req.headersDistinct[name];
  if (raw === undefined) return undefined;
  if (raw.length > 1)
    throw new GatewayError('GW_ERR_BAD_REQUEST', `the ${name} header may be given only once`);
  return raw[0];
}

function copiedHeaders(req: Request, patterns: readonly string[]): Record<string, string> {
  const copied: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values === undefined) continue;
    const wanted = patterns.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
    if (!wanted) continue;
    if (values.length > 1)
      throw new GatewayError('GW_ERR_INVALID_HEADER', `header ${name} is given more than once`);
    copied[name] = values[0]!;
  }
  return copied;
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
