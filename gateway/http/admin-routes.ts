/**
 * The admin API (/admin/v1/...): dead letters — list, inspect (with the payload), replay one or by
 * tenant+topic (fresh attempts and age), delete one, purge by tenant+topic (or all, explicitly) —
 * and the circuit breakers of the broker targets (GET /admin/v1/breakers).
 * Protected by the keys under `admin.keys` (Authorization: Bearer <admin key>); tenant API keys do
 * not open it. With no admin key configured it is not mounted at all (404 like any unknown path).
 */
import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { Logger } from '../../adapters/core/index.js';
import type { TargetBreakers } from '../../adapters/reliability/breaker/index.js';
import type { DeadLetter, DeletedDeadLetters, Outbox } from '../../adapters/reliability/outbox/outbox.js';
import { GatewayError } from '../errors/registry.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { createAdminAuth } from './admin-auth.js';
import { payloadFields } from './message-body.js';
import { requestState } from './request-state.js';

export interface AdminRoutesDeps {
  /** `sha256:<hex>` or plaintext keys. */
  readonly adminKeys: readonly string[];
  readonly outbox: Outbox;
  readonly now: () => number;
  /** Wakes the relay after a replay. */
  wakeRelay(): void;
  readonly retryAfterSeconds: number;
  readonly breakers: Pick<TargetBreakers, 'snapshot'>;
  /** Deletions and purges are logged (info) with the admin key's fingerprint. */
  readonly logger: Logger;
  readonly metrics: Pick<GatewayMetrics, 'deadLettersDeleted'>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,248}$/;

export function createAdminRoutes(deps: AdminRoutesDeps): Router {
  const router = Router({ caseSensitive: true });
  router.use('/admin/v1', createAdminAuth(deps.adminKeys));

  const store = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw new GatewayError(
        'GW_ERR_OUTBOX_UNAVAILABLE',
        `the outbox is unavailable: ${(error as Error).message}`,
        {
          retryAfterSeconds: deps.retryAfterSeconds,
        },
      );
    }
  };

  router.get('/admin/v1/breakers', (_req, res) => {
    const iso = (ms: number | undefined) => (ms === undefined ? {} : new Date(ms).toISOString());
    const targets = Object.fromEntries(
      Object.entries(deps.breakers.snapshot()).map(([target, snap]) => {
        const openedAt = iso(snap.openedAt);
        const probeAt = iso(snap.probeAt);
        return [
          target,
          {
            enabled: snap.enabled,
            state: snap.state,
            ...(typeof openedAt === 'string' ? { openedAt } : {}),
            ...(typeof probeAt === 'string' ? { probeAt } : {}),
            window: snap.window,
          },
        ];
      }),
    );
    res.json({ targets });
  });

  router.get('/admin/v1/dead-letters', async (req, res) => {
    const filter = { ...nameQuery(req, 'tenant'), ...nameQuery(req, 'topic') };
    const limit = limitQuery(req);
    const cursor = req.query.cursor;
    if (cursor !== undefined && (typeof cursor !== 'string' || !/^\d{1,18}$/.test(cursor))) {
      throw new GatewayError('GW_ERR_INVALID_QUERY', 'cursor must be the nextCursor of a previous page');
    }
    const page = await store(() => deps.outbox.listDead(filter, limit, cursor));
    res.json({
      items: page.items.map(deadBody),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    });
  });

  router.post('/admin/v1/dead-letters/replay', async (req, res) => {
    const { tenant } = nameQuery(req, 'tenant');
    if (tenant === undefined)
      throw new GatewayError('GW_ERR_INVALID_QUERY', 'a bulk replay needs ?tenant= (and optionally &topic=)');
    const replayed = await store(() =>
      deps.outbox.replayDead({ tenant, ...nameQuery(req, 'topic') }, deps.now()),
    );
    if (replayed > 0) deps.wakeRelay();
    res.json({ replayed });
  });

  router.post('/admin/v1/dead-letters/purge', async (req, res) => {
    const filter = purgeFilter(req);
    const removed = await store(() => deps.outbox.deleteDead(filter));
    deleted(req, res, 'purge', { ...filter, ...(filter.tenant === undefined ? { all: true } : {}) }, removed);
    res.json({ purged: removed.deleted });
  });

  router.get('/admin/v1/dead-letters/:id', async (req, res) => {
    const item = await store(() =>
      deps.outbox.getDead(String(req.params.id), nameQuery(req, 'tenant').tenant),
    );
    if (!item) throw new GatewayError('GW_ERR_NOT_FOUND', `no dead message ${String(req.params.id)}`);
    // The payload is shown here, not in the list: a page of 1000 payloads is too much to answer.
    res.json({ ...deadBody(item), ...payloadFields(item.contentType, item.payload) });
  });

  router.delete('/admin/v1/dead-letters/:id', async (req, res) => {
    const id = String(req.params.id);
    const filter = { id, ...nameQuery(req, 'tenant') };
    const removed = await store(() => deps.outbox.deleteDead(filter));
    if (removed.deleted === 0) throw new GatewayError('GW_ERR_NOT_FOUND', `no dead message ${id}`);
    deleted(req, res, 'delete', filter, removed);
    res.json({ deleted: removed.deleted });
  });

  router.post('/admin/v1/dead-letters/:id/replay', async (req, res) => {
    const id = String(req.params.id);
    const replayed = await store(() =>
      deps.outbox.replayDead({ id, ...nameQuery(req, 'tenant') }, deps.now()),
    );
    if (replayed === 0) throw new GatewayError('GW_ERR_NOT_FOUND', `no dead message ${id}`);
    deps.wakeRelay();
    res.json({ replayed });
  });

  /** Counts and logs a deletion: who (the admin key's fingerprint), what and how many. */
  function deleted(
    req: Request,
    res: Response,
    action: 'delete' | 'purge',
    filter: Record<string, unknown>,
    removed: DeletedDeadLetters,
  ): void {
    for (const [target, n] of Object.entries(removed.byTarget)) {
      deps.metrics.deadLettersDeleted.inc({ target, action }, n);
    }
    deps.logger.info(
      {
        component: 'admin',
        adminKey: keyFingerprint(req),
        requestId: requestState(res).requestId,
        action,
        ...filter,
        deleted: removed.deleted,
        byTarget: removed.byTarget,
      },
      action === 'purge' ? 'dead letters purged' : 'dead letter deleted',
    );
  }

  return router;
}

/**
 * Who made an admin request, without logging the key: `sha256:` and the first 12 hex digits of the
 * presented key's SHA-256 — the start of its `admin.keys` entry when configured as a digest.
 */
function keyFingerprint(req: Request): string {
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 12)}`;
}

/**
 * What a purge deletes: a tenant's dead letters (and a topic's, with ?topic=), like a bulk replay;
 * every dead letter only with ?all=true and no other filter. Safe by default: no filter is a 400.
 */
function purgeFilter(req: Request): { tenant?: string; topic?: string } {
  const filter = { ...nameQuery(req, 'tenant'), ...nameQuery(req, 'topic') };
  const all = req.query.all;
  if (all !== undefined) {
    if (all !== 'true') throw new GatewayError('GW_ERR_INVALID_QUERY', 'all must be true when given');
    if (filter.tenant !== undefined || filter.topic !== undefined) {
      throw new GatewayError(
        'GW_ERR_INVALID_QUERY',
        'all=true purges every dead letter: give it without tenant and topic',
      );
    }
    return {};
  }
  if (filter.tenant === undefined) {
    throw new GatewayError(
      'GW_ERR_INVALID_QUERY',
      'a purge needs ?tenant= (and optionally &topic=), or ?all=true to delete every dead letter',
    );
  }
  return filter;
}

function nameQuery(req: Request, name: 'tenant' | 'topic'): { tenant?: string; topic?: string } {
  const raw = req.query[name];
  if (raw === undefined) return {};
  if (typeof raw !== 'string' || !NAME.test(raw)) {
    throw new GatewayError('GW_ERR_INVALID_QUERY', `query parameter ${name} is not a valid ${name} name`);
  }
  return { [name]: raw };
}

function limitQuery(req: Request): number {
  const raw = req.query.limit;
  if (raw === undefined) return 100;
  if (typeof raw !== 'string' || !/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) {
    throw new GatewayError('GW_ERR_INVALID_QUERY', 'limit must be an integer from 1 to 1000');
  }
  return Number(raw);
}

function deadBody(item: DeadLetter) {
  return {
    id: item.id,
    tenant: item.tenant,
    topic: item.topic,
    target: item.target,
    destination: item.destination,
    ...(item.key === undefined ? {} : { key: item.key }),
    contentType: item.contentType,
    headers: item.headers,
    payloadBytes: item.payloadBytes,
    status: item.state,
    attempts: item.attempts,
    ...(item.lastError === undefined ? {} : { lastError: item.lastError }),
    createdAt: new Date(item.createdAt).toISOString(),
    queuedAt: new Date(item.queuedAt).toISOString(),
    updatedAt: new Date(item.updatedAt).toISOString(),
  };
}
