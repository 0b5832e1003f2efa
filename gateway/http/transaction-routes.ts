/**
 * Transactional (half) messages over HTTP (adapters/reliability/transactions/):
 *   POST /v1/transactions                 open one → 201 { id, status: open, expiresAt }
 *   GET  /v1/transactions/{id}            its status and message count
 *   POST /v1/transactions/{id}/commit     every prepared message is delivered → 200 committed
 *   POST /v1/transactions/{id}/rollback   none ever is → 200 rolled-back
 * Messages are prepared by publishing with `Transaction-Id` (publish-routes.ts). Transactions
 * belong to the tenant of the credential that opened them; other tenants get 404.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { Transactions, DecideOutcome } from '../../adapters/reliability/transactions/coordinator.js';
import type { TransactionRecord } from '../../adapters/reliability/transactions/store.js';
import type { Policy, PublishContext } from '../../policies/core/index.js';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors/registry.js';
import { parseJsonBody } from '../publish/json.js';
import { readBody } from './body.js';
import { gatewayErrorFromRejection } from './problem.js';
import { requestState } from './request-state.js';

export interface TransactionRoutesDeps {
  readonly config: Readonly<GatewayConfig>;
  readonly authenticate: Policy;
  readonly transactions: Transactions;
}

const MAX_BODY = 4096;

/** The tenant of the request's credential (authentication alone: a transaction names no topic). */
export async function authenticatedTenant(
  authenticate: Policy,
  req: Request,
  res: Response,
): Promise<string> {
  const state = requestState(res);
  const context: PublishContext = {
    requestId: state.requestId,
    operation: 'read',
    topic: '',
    headerNames: Object.keys(req.headers),
    ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }),
  };
  const outcome = await authenticate.evaluate(context);
  if (context.principal) state.tenant = context.principal.tenant;
  if (!outcome.ok) throw gatewayErrorFromRejection(outcome.rejection);
  return context.principal!.tenant;
}

/** What a transaction looks like in every answer. */
export function transactionBody(record: TransactionRecord) {
  return {
    id: record.id,
    status: record.state,
    messages: record.messages,
    createdAt: new Date(record.createdAt).toISOString(),
    expiresAt: new Date(record.expiresAt).toISOString(),
    ...(record.decidedBy === undefined ? {} : { decidedBy: record.decidedBy }),
    ...(record.checkUrl === undefined ? {} : { checkUrl: record.checkUrl, checks: record.checks }),
  };
}

export function transactionUrl(id: string): string {
  return `/v1/transactions/${encodeURIComponent(id)}`;
}

/** Runs a store call; a store that cannot be used is a 503, not a 500. */
async function stored<T>(config: Readonly<GatewayConfig>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new GatewayError(
      'GW_ERR_TRANSACTION_STORE_UNAVAILABLE',
      `the transaction store cannot be used: ${(error as Error).message}`,
      { retryAfterSeconds: config.server.retryAfterSeconds, cause: error },
    );
  }
}

export function createTransactionRoutes(deps: TransactionRoutesDeps): Router {
  const { config, transactions } = deps;
  const options = config.transactions;
  const router = Router({ caseSensitive: true, strict: false });
  const openSchema = z.strictObject({
    timeoutSeconds: z.number().int().min(1).max(options.maxTimeoutSeconds).optional(),
    checkUrl: z
      .url({ protocol: /^https?$/ })
      .refine((url) => options.allowedCheckUrls.some((prefix) => url.startsWith(prefix)), {
        message: `must start with one of: ${options.allowedCheckUrls.join(', ')}`,
      })
      .optional(),
  });

  const notFound = (id: string) =>
    new GatewayError('GW_ERR_NOT_FOUND', `no transaction ${id} is known for your tenant`);

  /** The answer of a commit or rollback. */
  function decided(res: Response, id: string, outcome: DecideOutcome, verb: 'commit' | 'roll back'): void {
    switch (outcome.kind) {
      case 'unknown':
        throw notFound(id);
      case 'conflict':
        throw new GatewayError(
          'GW_ERR_TRANSACTION_CONFLICT',
          `cannot ${verb} transaction ${id}: it is ${outcome.record.state}`,
        );
      case 'unavailable':
        throw new GatewayError(
          'GW_ERR_TRANSACTION_STORE_UNAVAILABLE',
          `transaction ${id} is committed, but its messages could not be queued yet (${outcome.detail}); they will be, and repeating the commit is safe`,
          { retryAfterSeconds: config.server.retryAfterSeconds },
        );
      case 'done':
        res.json(transactionBody(outcome.record));
    }
  }

  router.post('/v1/transactions', async (req, res) => {
    const tenant = await authenticatedTenant(deps.authenticate, req, res);
    const body = await readBody(req, MAX_BODY, []);
    let input: z.infer<typeof openSchema> = {};
    if (body.length > 0) {
      const parsed = parseJsonBody(body, 4);
      if ('error' in parsed) throw parsed.error;
      const checked = openSchema.safeParse(parsed.value);
      if (!checked.success) {
        throw new GatewayError(
          'GW_ERR_INVALID_TRANSACTION',
          checked.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
        );
      }
      input = checked.data;
    }
    const record = await stored(config, () =>
      transactions.begin(tenant, {
        ...(input.timeoutSeconds === undefined ? {} : { timeoutSeconds: input.timeoutSeconds }),
        ...(input.checkUrl === undefined ? {} : { checkUrl: input.checkUrl }),
      }),
    );
    res.status(201).setHeader('location', transactionUrl(record.id)).json(transactionBody(record));
  });

  router.get('/v1/transactions/:id', async (req, res) => {
    const tenant = await authenticatedTenant(deps.authenticate, req, res);
    const id = String(req.params.id);
    const record = await stored(config, () => transactions.get(tenant, id));
    if (!record) throw notFound(id);
    res.json(transactionBody(record));
  });

  router.post('/v1/transactions/:id/commit', async (req, res) => {
    const tenant = await authenticatedTenant(deps.authenticate, req, res);
    const id = String(req.params.id);
    decided(res, id, await stored(config, () => transactions.commit(tenant, id)), 'commit');
  });

  router.post('/v1/transactions/:id/rollback', async (req, res) => {
    const tenant = await authenticatedTenant(deps.authenticate, req, res);
    const id = String(req.params.id);
    decided(res, id, await stored(config, () => transactions.rollback(tenant, id)), 'roll back');
  });

  return router;
}

/**
 * The status of a message the outbox does not know (yet): one prepared in a transaction — still
 * `prepared` while the transaction is open or being committed, `rolled-back` after a rollback.
 * A committed transaction's messages are in the outbox, which answers for them.
 */
export async function preparedStatus(transactions: Transactions, tenant: string, id: string) {
  const found = await transactions.findMessage(tenant, id);
  if (!found || found.state === 'committed') return undefined;
  return {
    id,
    topic: found.topic,
    status: found.state === 'rolled-back' ? ('rolled-back' as const) : ('prepared' as const),
    transactionId: found.transactionId,
    attempts: 0,
    createdAt: new Date(found.createdAt).toISOString(),
    updatedAt: new Date(found.updatedAt).toISOString(),
  };
}
