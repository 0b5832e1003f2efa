/**
 * The explicit list of adapter kinds. Adding a broker = one folder under adapters/ and one line
 * here; the gateway's config schema and factory read this list and need no change.
 */
import type { AdapterKind } from './core/index.js';
import { embeddedAdapterKind } from './embedded/index.js';

export const ADAPTER_KINDS = [embeddedAdapterKind] as const satisfies readonly AdapterKind<never>[];

export type BrokerConfig = Parameters<(typeof ADAPTER_KINDS)[number]['create']>[1];

export function findAdapterKind(kind: string): AdapterKind<{ kind: string }> | undefined {
  return (ADAPTER_KINDS as readonly AdapterKind<never>[]).find((k) => k.kind === kind) as
    | AdapterKind<{ kind: string }>
    | undefined;
}
