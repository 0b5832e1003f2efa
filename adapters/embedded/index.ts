/** The embedded broker: the default, zero-dependency broker (a durable log in one SQLite file). */
import type { AdapterKind } from '../core/index.js';
import { embeddedConfigSchema, type EmbeddedConfig } from './config.js';
import { createEmbeddedAdapter } from './embedded-adapter.js';

// `satisfies` rather than defineAdapterKind(): the same check, but the concrete zod object type of
// configSchema survives, which the gateway's z.discriminatedUnion over all kinds needs
// (defineAdapterKind's return type widens it to z.ZodType<Config>).
export const embeddedAdapterKind = {
  kind: 'embedded',
  configSchema: embeddedConfigSchema,
  create: createEmbeddedAdapter,
  // No reserved names of its own, and no reader (it is read over HTTP).
  declarations: {
    receipt: { offset: "Position of the message in its destination's log (decimal string)." },
    // Read back over HTTP (GET /v1/topics/{topic}/messages): the HTTP binding's names, `ce-<name>`
    // headers (values not percent-encoded: they travel in JSON), datacontenttype as contentType.
    cloudEvents: { convention: 'CloudEvents HTTP protocol binding 1.0 header names', attributePrefix: 'ce-' },
  },
} as const satisfies AdapterKind<EmbeddedConfig>;

export { embeddedConfigSchema, DATABASE_FILE_NAME, type EmbeddedConfig } from './config.js';
export {
  createEmbeddedAdapter,
  MAX_DESTINATION_LENGTH,
  MAX_READ_LIMIT,
  type EmbeddedAdapter,
  type EmbeddedStats,
} from './embedded-adapter.js';
