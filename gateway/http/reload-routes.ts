/**
 * POST /admin/v1/config/reload (admin key): reloads the configuration now, the same way a changed
 * config file or SIGHUP does, and answers what happened: `applied` (with the broker targets kept,
 * added, replaced and removed), `unchanged`, or `refused` with the reasons (the running
 * configuration keeps serving). Always 200 when the reload ran: a refusal is an outcome, not an
 * error of this request.
 */
import { Router } from 'express';
import type { ReloadResult } from '../runtime/runtime.js';
import { createAdminAuth } from './admin-auth.js';

export interface ReloadRoutesDeps {
  readonly adminKeys: readonly string[];
  reloadConfig(): Promise<ReloadResult>;
}

export function createReloadRoutes(deps: ReloadRoutesDeps): Router {
  const router = Router({ caseSensitive: true, strict: true });
  router.post('/admin/v1/config/reload', createAdminAuth(deps.adminKeys), async (_req, res) => {
    res.json(await deps.reloadConfig());
  });
  return router;
}
