/**
 * Confluent REST Proxy (v2, v3) and Strimzi Kafka Bridge produce endpoints; see README.md here.
 * Each request runs the /v1 pipeline: topic checks, auth/ACL/quota policies and the route (admit),
 * the delivery mode and breaker check, Idempotency-Key, the body limits, message and byte quotas
 * (admitContent), then the reliability layer (deliver). Only the request and answer shapes differ.
 */
import { Router, type Request, type Response } from 'express';
import type { MessageEnvelope } from '../../../adapters/core/index.js';
import type { DeliveryMode } from '../../config/schema.js';
import type { PublishContext } from '../../../policies/core/index.js';
import { GatewayError } from '../../errors/registry.js';
import { readBody } from '../../http/body.js';
import { errorOf, type PublishPipeline } from '../../http/publish-pipeline.js';
import type { PublishRoutesDeps } from '../../http/publish-routes.js';
import { gatewayErrorFromRejection } from '../../http/problem.js';
import { requestState } from '../../http/request-state.js';
import { acceptsMediaType, isJsonMediaType, parseMediaType } from '../../publish/content-type.js';
import { parseJsonBody } from '../../publish/json.js';
import { validatePayload } from '../../publish/payload-schema.js';
import type { ResolvedRoute } from '../../routing.js';
import { answerOnce } from '../../http/answer-once.js';
import { authorizationOf } from '../basic-auth.js';
import { confluentOffset, outcomeFailure, strimziOffset, v3ErrorReport, v3Report } from './answers.js';
import {
  chooseErrorFormat,
  createKafkaRestErrorHandler,
  errorAnswer,
  KafkaRestError,
  schemaRegistryError,
  V2_CONTENT_TYPE,
  V3_CONTENT_TYPE,
  type ErrorFlavour,
} from './errors.js';
import { splitConcatenated } from './json-spans.js';
import { v2MediaType } from './media-type.js';
import { CONTENT_TYPES, invalidRecord, type RecordError, type RecordInput } from './records.js';
import { parseV2Request } from './v2-request.js';
import { checkUtf8, parseV3Record, type V3Record } from './v3-request.js';

const V2_PATHS = ['/topics/:topic', '/topics/:topic/partitions/:partition'];
// Confluent Cloud serves v3 under /kafka.
const V3_RECORDS = [
  '/v3/clusters/:clusterId/topics/:topic/records',
  '/kafka/v3/clusters/:clusterId/topics/:topic/records',
];
const V3_CLUSTERS = ['/v3/clusters', '/kafka/v3/clusters'];
const V3_CLUSTER = ['/v3/clusters/:clusterId', '/kafka/v3/clusters/:clusterId'];

/** The Confluent and Strimzi compatible endpoints; see README.md in this folder. */
export function createConfluentRoutes(deps: PublishRoutesDeps, pipeline: PublishPipeline): Router {
  const router = Router({ caseSensitive: true, strict: false });
  const options = deps.config.compat.confluent;
  const { limits } = deps.config;
  const { retryAfterSeconds } = deps.config.server;
  const logger = deps.logger;

  /** Auth from Authorization: Bearer as for /v1, or Basic with an API key as the password. */
  function credential(req: Request): string | undefined {
    const auth = authorizationOf(req.headers.authorization);
    if (auth.kind === 'malformed') {
      throw new GatewayError('GW_ERR_UNAUTHENTICATED', auth.detail, {
        headers: { 'WWW-Authenticate': 'Basic realm="pubgate"' },
      });
    }
    return auth.kind === 'basic' ? auth.credential.authorization : auth.authorization;
  }

  function modeOf(req: Request, route: ResolvedRoute['route'], asyncParam: boolean) {
    const chosen = pipeline.deliveryMode(req, route);
    // The bridge's ?async=true asks not to wait for the broker: the outbox write is the durable
    // point pubgate offers instead, where the route allows async answers.
    if (asyncParam && chosen.mode === 'sync' && route.allowAsync)
      return { mode: 'async' as DeliveryMode, applied: false };
    return chosen;
  }

  function envelopesOf(res: Response, resolved: ResolvedRoute, records: readonly RecordInput[]) {
    return records.map((record) => {
      const envelope = pipeline.envelopeFor(res, resolved, {
        ...(record.key === undefined ? {} : { key: record.key }),
        headers: record.headers,
        payload: record.payload,
        contentType: record.contentType,
      });
      // The route's JSON Schema (routes[].schema), then the brokers' size and name limits.
      const refused =
        validatePayload(resolved.route, record.payload, record.contentType) ??
        deps.publisher.check(resolved, envelope);
      return { envelope, refused };
    });
  }

  router.post(V2_PATHS, async (req, res) => {
    const media = v2MediaType(req.headers['content-type']);
    const asyncText = typeof req.query.async === 'string' ? req.query.async : undefined;
    const flavour: ErrorFlavour =
      options.v2Flavour !== 'auto'
        ? options.v2Flavour
        : (media.kind === 'format' && media.format === 'text') || req.query.async !== undefined
          ? 'strimzi'
          : 'confluent';
    chooseErrorFormat(res, flavour, V2_CONTENT_TYPE);
    const resolved = await pipeline.admit(req, res, 'publish', {
      topic: String(req.params.topic ?? ''),
      authorization: credential(req),
    });
    const partition = partitionOf(req.params.partition);
    if (req.query.async !== undefined && asyncText !== 'true' && asyncText !== 'false') {
      throw new KafkaRestError(400, 400, 'the async query parameter must be true or false');
    }
    const asyncParam = asyncText === 'true';
    const { mode, applied } = modeOf(req, resolved.route, asyncParam);
    pipeline.refuseWhileCutOff(resolved, mode);
    const idempotencyKey = pipeline.parseIdempotencyKey(req);
    if (media.kind === 'schema') throw schemaRegistryError(`the ${media.format} embedded format`);
    if (media.kind === 'unsupported') {
      throw new GatewayError(
        'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
        `content type ${media.essence ?? '(none)'} is not accepted; send application/vnd.kafka.{binary,json,text}.v2+json`,
      );
    }
    const refused = payloadTypeError(resolved, CONTENT_TYPES[media.format]);
    if (refused) throw refused;

    const body = await readBody(req, resolved.route.maxBodyBytes, resolved.route.contentEncodings);
    const parsed = parseJsonBody(body, limits.maxJsonDepth + 3);
    if ('error' in parsed) throw parsed.error;
    const request = parseV2Request(body, parsed.value, media.format, limits, partition);
    if ('error' in request) throw request.error;
    await pipeline.admitContent(res, request.records.length, body.length);
    const built = envelopesOf(res, resolved, request.records);
    const refusedAt = built.findIndex((b) => b.refused);
    if (refusedAt >= 0) {
      const { refused } = built[refusedAt]!;
      throw new GatewayError(refused!.code, `records[${refusedAt}]: ${refused!.message}`, {
        ...(refused!.errors === undefined ? {} : { errors: refused!.errors }),
      });
    }
    const envelopes = built.map((b) => b.envelope);

    const fingerprint = () =>
      deps.idempotency.fingerprint({
        topic: requestState(res).topic!,
        body,
        headers: {
          'content-type': media.format,
          mode,
          flavour,
          ...(partition === undefined ? {} : { partition: String(partition) }),
          ...(asyncParam ? { async: 'true' } : {}),
        },
      });
    await answerOnce(
      { deps, errorAnswer: (error) => errorAnswer(error, flavour, V2_CONTENT_TYPE) },
      req,
      res,
      idempotencyKey,
      fingerprint,
      async () => {
        const outcomes = await pipeline.deliver(req, res, resolved, envelopes, mode);
        const failures = outcomes.filter((o) => o.kind === 'failed' || o.kind === 'unavailable');
        if (failures.length === outcomes.length) {
          // Nothing was accepted: the error a single publish would get (503 + Retry-After, …).
          throw errorOf(
            failures[0] as Extract<(typeof failures)[0], { kind: 'failed' | 'unavailable' }>,
            retryAfterSeconds,
          );
        }
        const headers: Record<string, string> = { 'content-type': V2_CONTENT_TYPE };
        if (applied && outcomes.some((o) => o.kind === 'queued'))
          headers['preference-applied'] = 'respond-async';
        // The bridge's async answer has no body; only when every record was accepted.
        if (asyncParam && failures.length === 0) return { status: 204, headers: {} };
        const answer =
          flavour === 'strimzi'
            ? { offsets: outcomes.map((o) => strimziOffset(o, retryAfterSeconds)) }
            : {
                offsets: outcomes.map((o) => confluentOffset(o, retryAfterSeconds)),
                key_schema_id: null,
                value_schema_id: null,
              };
        return {
          status: 200,
          headers,
          body: JSON.stringify(answer),
          retriable: failures.some((o) => outcomeFailure(o, flavour, retryAfterSeconds)?.retriable),
        };
      },
    );
  });

  router.post(V3_RECORDS, async (req, res) => {
    chooseErrorFormat(res, 'confluent', V3_CONTENT_TYPE);
    const clusterId = String(req.params.clusterId ?? '');
    if (options.requireClusterId && clusterId !== options.clusterId) {
      throw new KafkaRestError(404, 404, `Cluster ${clusterId} cannot be found.`);
    }
    const topic = String(req.params.topic ?? '');
    const resolved = await pipeline.admit(req, res, 'publish', { topic, authorization: credential(req) });
    const { mode, applied } = pipeline.deliveryMode(req, resolved.route);
    pipeline.refuseWhileCutOff(resolved, mode);
    const idempotencyKey = pipeline.parseIdempotencyKey(req);
    const media = parseMediaType(req.headers['content-type']);
    if (!media || !isJsonMediaType(media.essence)) {
      throw new GatewayError(
        'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
        `content type ${media?.essence ?? '(none)'} is not accepted; send application/json records`,
      );
    }
    const body = await readBody(req, resolved.route.maxBodyBytes, resolved.route.contentEncodings);
    const notUtf8 = checkUtf8(body);
    if (notUtf8) throw notUtf8;
    const { spans, unterminated } = splitConcatenated(body);
    const count = spans.length + (unterminated === undefined ? 0 : 1);
    if (count === 0) throw new KafkaRestError(400, 400, 'the body holds no record');
    if (count > limits.maxBatchMessages) {
      throw new KafkaRestError(
        400,
        400,
        `a request holds at most ${limits.maxBatchMessages} records; got ${count}`,
      );
    }
    await pipeline.admitContent(res, count, body.length);

    // One item per record, in order: refused here (its own error report) or an envelope to deliver.
    type Item = { error: RecordError } | { record: V3Record; envelope: MessageEnvelope };
    const items: Item[] = spans.map((span) => {
      const parsed = parseV3Record(body, span, limits);
      if ('error' in parsed) return parsed;
      const refused = payloadTypeError(resolved, parsed.record.contentType);
      if (refused) return { error: refused };
      const { envelope, refused: invalid } = envelopesOf(res, resolved, [parsed.record])[0]!;
      return invalid ? { error: invalid } : { record: parsed.record, envelope };
    });
    if (unterminated !== undefined) {
      items.push({
        error: invalidRecord(
          `the record at byte ${unterminated} is not complete JSON; nothing after it was read`,
        ),
      });
    }

    const fingerprint = () =>
      deps.idempotency.fingerprint({
        topic: requestState(res).topic!,
        body,
        headers: { mode, cluster: clusterId },
      });
    await answerOnce(
      { deps, errorAnswer: (error) => errorAnswer(error, 'confluent', V3_CONTENT_TYPE) },
      req,
      res,
      idempotencyKey,
      fingerprint,
      async () => {
        const accepted = items.flatMap((item) => ('envelope' in item ? [item.envelope] : []));
        const outcomes =
          accepted.length === 0 ? [] : await pipeline.deliver(req, res, resolved, accepted, mode);
        let next = 0;
        let retriable = false;
        const reports = items.map((item) => {
          if ('error' in item) return v3ErrorReport(item.error);
          const outcome = outcomes[next++]!;
          const failure = outcomeFailure(outcome, 'confluent', retryAfterSeconds);
          if (failure) {
            retriable ||= failure.retriable;
            return v3ErrorReport(failure);
          }
          return v3Report(outcome, item.record, {
            clusterId: options.clusterId,
            topic,
            createdAt: item.envelope.createdAt,
          });
        });
        const headers: Record<string, string> = { 'content-type': V3_CONTENT_TYPE };
        if (applied && outcomes.some((o) => o.kind === 'queued'))
          headers['preference-applied'] = 'respond-async';
        // Concatenated JSON, one report per record in request order, each on its own line.
        return {
          status: 200,
          headers,
          body: reports.map((report) => JSON.stringify(report)).join('\n') + '\n',
          retriable,
        };
      },
    );
  });

  router.get(V3_CLUSTERS, async (req, res) => {
    chooseErrorFormat(res, 'confluent', V3_CONTENT_TYPE);
    await authenticate(req, res);
    const base = `${req.protocol}://${req.get('host') ?? 'localhost'}${req.path.startsWith('/kafka') ? '/kafka' : ''}/v3/clusters`;
    res.type(V3_CONTENT_TYPE).send(
      JSON.stringify({
        kind: 'KafkaClusterList',
        metadata: { self: base, next: null },
        data: [clusterBody(base)],
      }),
    );
  });

  router.get(V3_CLUSTER, async (req, res) => {
    chooseErrorFormat(res, 'confluent', V3_CONTENT_TYPE);
    await authenticate(req, res);
    if (req.params.clusterId !== options.clusterId) {
      throw new KafkaRestError(404, 404, `Cluster ${String(req.params.clusterId)} cannot be found.`);
    }
    const base = `${req.protocol}://${req.get('host') ?? 'localhost'}${req.path.startsWith('/kafka') ? '/kafka' : ''}/v3/clusters`;
    res.type(V3_CONTENT_TYPE).send(JSON.stringify(clusterBody(base)));
  });

  function clusterBody(base: string) {
    return {
      kind: 'KafkaCluster',
      metadata: { self: `${base}/${options.clusterId}`, resource_name: `crn:///kafka=${options.clusterId}` },
      cluster_id: options.clusterId,
    };
  }

  /** Who is calling, for requests that name no topic (as GET /v1/messages/{id}). */
  async function authenticate(req: Request, res: Response): Promise<void> {
    const state = requestState(res);
    const authorization = credential(req);
    const context: PublishContext = {
      requestId: state.requestId,
      operation: 'read',
      topic: '',
      headerNames: Object.keys(req.headers),
      ...(authorization === undefined ? {} : { authorization }),
    };
    const outcome = await deps.authenticate.evaluate(context);
    if (!outcome.ok) throw gatewayErrorFromRejection(outcome.rejection);
  }

  /** The route must accept the content type the records are published with (415 otherwise). */
  function payloadTypeError(resolved: ResolvedRoute, contentType: string): GatewayError | undefined {
    const essence = parseMediaType(contentType)!.essence;
    if (acceptsMediaType(resolved.route.contentTypes, essence)) return undefined;
    return new GatewayError(
      'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
      `records of this format are published as ${essence}, which the route does not accept (${resolved.route.contentTypes.join(', ')})`,
    );
  }

  router.use(createKafkaRestErrorHandler(logger));
  return router;
}

/** The `{p}` of /partitions/{p}: a partition number, or the REST Proxy's 40402. */
function partitionOf(raw: string | string[] | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw);
  if (!/^\d{1,10}$/.test(text) || Number(text) > 2 ** 31 - 1) {
    throw new KafkaRestError(404, 40402, 'Partition not found.');
  }
  return Number(text);
}
