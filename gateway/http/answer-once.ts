/**
 * Idempotency-Key handling, once for every publishing endpoint (/v1 through the pipeline's
 * `respond`, and each compatible API): replay a completed answer, 409 while the key is in flight,
 * 422 for another request under the key, 503 when the store is down, store the new answer — a 5xx
 * answer (or a retriable partial failure) releases the key instead. Answers are kept as the bytes
 * sent: the API's own body and content type, and its own error body (problem+json for /v1).
 */
import type { Request, Response } from 'express';
import type { PublishRoutesDeps } from './publish-routes.js';
import { requestState } from './request-state.js';
import { GatewayError } from '../errors/registry.js';

/** An answer as sent: `body` undefined = no body (204). */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /**
   * Some of it failed in a way a retry may fix (a 5xx inside a 200 answer, e.g. a per-record
   * broker error): the key is released rather than the answer stored, as for a 5xx.
   */
  readonly retriable?: boolean;
}

export interface AnswerOnceDeps {
  readonly deps: Pick<PublishRoutesDeps, 'config' | 'idempotency' | 'metrics'>;
  /**
   * The API's own answer for what `produce` threw (a GatewayError, or the API's own error), stored
   * under the key like any other answer.
   */
  readonly errorAnswer: (error: unknown) => RawAnswer;
  /** What the key is scoped to besides tenant and method. Default: the request's path. */
  readonly scope?: string;
}

export async function answerOnce(
  { deps, errorAnswer, scope }: AnswerOnceDeps,
  req: Request,
  res: Response,
  key: string | undefined,
  fingerprint: () => string,
  produce: () => Promise<RawAnswer>,
): Promise<void> {
  if (key === undefined) {
    sendRaw(res, await produce());
    return;
  }
  const { retryAfterSeconds } = deps.config.server;
  const decision = await deps.idempotency.begin({
    tenant: requestState(res).tenant!,
    method: req.method,
    path: scope ?? req.path,
    key,
    fingerprint: fingerprint(),
  });
  deps.metrics.idempotency.inc({
    outcome:
      decision.kind === 'proceed' ? 'acquired' : decision.kind === 'replay' ? 'replayed' : decision.kind,
  });
  switch (decision.kind) {
    case 'replay':
      res.setHeader('idempotent-replayed', 'true');
      sendRaw(res, {
        status: decision.response.status,
        headers: decision.response.headers,
        ...(decision.response.status === 204 ? {} : { body: decision.response.body }),
      });
      return;
    case 'in-flight':
      throw new GatewayError('GW_ERR_IDEMPOTENCY_IN_FLIGHT', decision.detail, { retryAfterSeconds });
    case 'mismatch':
      throw new GatewayError('GW_ERR_IDEMPOTENCY_MISMATCH', decision.detail);
    case 'unavailable':
      throw new GatewayError(
        'GW_ERR_STORE_UNAVAILABLE',
        `${decision.detail}; the request was not processed (deduplication is never skipped)`,
        { retryAfterSeconds },
      );
    case 'proceed':
      break;
  }
  let answer: RawAnswer;
  try {
    answer = await produce();
  } catch (error) {
    const stored = await decision.finish(storedOf(errorAnswer(error)));
    if (stored.kind === 'unavailable') deps.metrics.idempotency.inc({ outcome: 'unavailable' });
    throw error;
  }
  // A retriable partial failure is not stored: the finish below releases the key (status 503).
  const stored = await decision.finish(
    answer.retriable ? { ...storedOf(answer), status: 503 } : storedOf(answer),
  );
  if (stored.kind === 'unavailable') deps.metrics.idempotency.inc({ outcome: 'unavailable' });
  sendRaw(res, answer);
}

function storedOf(answer: RawAnswer) {
  return { status: answer.status, headers: { ...answer.headers }, body: answer.body ?? '' };
}

export function sendRaw(res: Response, answer: RawAnswer): void {
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.status(answer.status);
  if (answer.body === undefined) res.end();
  else res.send(Buffer.from(answer.body, 'utf8'));
}

/** The message, with the first listed items (e.g. schema violations): this body has no list. */
export function withItems(error: GatewayError): string {
  if (!error.errors?.length) return error.message;
  return `${error.message}: ${error.errors
    .slice(0, 3)
    .map((item) => item.detail)
    .join('; ')}`;
}
