/**
 * Which settings a reload may change. Everything that shapes how a request is handled (brokers,
 * routes, tenants, auth, quotas, limits, timeouts, overload, admin keys, retries) changes live.
 * What the process opened once at start cannot: the listening socket, the durable stores and the
 * relay that works on them, the Idempotency-Key store's rules, fault injection. A reload touching
 * any of those is refused as a whole (the running config stays), with the fields named, rather
 * than applied in part: a half-applied config would not be the file the operator reads.
 */
import { isDeepStrictEqual } from 'node:util';
import type { GatewayConfig } from '../config/schema.js';

/** Dotted paths of settings that need a restart to change. */
export const RESTART_ONLY_SETTINGS = [
  'server.host',
  'server.port',
  'stores',
  'reliability.relay',
  'reliability.statusRetentionSeconds',
  'reliability.deadLetterRetentionSeconds',
  'idempotency',
  'faults',
] as const;

function at(config: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown>)?.[key], config);
}

/** The restart-only settings that differ between the running and the new config ([] = reloadable). */
export function restartOnlyChanges(
  running: Readonly<GatewayConfig>,
  next: Readonly<GatewayConfig>,
): string[] {
  return RESTART_ONLY_SETTINGS.filter((dotted) => !isDeepStrictEqual(at(running, dotted), at(next, dotted)));
}
