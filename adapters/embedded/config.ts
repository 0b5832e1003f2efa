/**
 * Configuration of the embedded broker. Every option is documented here with its default; the
 * folder's README lists the same options. Unknown keys are rejected (strict object).
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

/** Name of the database file inside `dir`. One file holds every destination's log. */
export const DATABASE_FILE_NAME = 'embedded-broker.sqlite';

const retentionSchema = z.strictObject({
  maxMessagesPerTopic: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'Keep at most this many of the newest messages per destination (the broker-side topic); older ones ' +
        'are deleted in the same transaction that appends new ones. Offsets never restart. Default: unlimited.',
    ),
  maxAgeMs: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'Delete messages stored longer ago than this. Swept during writes, at most once per ' +
        'min(maxAgeMs, 60000) ms, so an idle broker keeps expired messages until its next write. Default: unlimited.',
    ),
});

export const embeddedConfigSchema = z.strictObject({
  kind: z.literal('embedded'),
  dir: z
    .string()
    .min(1)
    .default('./data')
    .describe(
      `Directory of the database file ${DATABASE_FILE_NAME}; created if missing. A relative path resolves ` +
        "against the gateway's base directory (its working directory). One gateway process owns the file. Default: ./data.",
    ),
  maxMessageBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * MiB)
    .default(MiB)
    .describe(
      'Largest message (payload + headers, approximately) accepted; larger ones fail with ADP_ERR_TOO_LARGE ' +
        'before anything is written. At most 64 MiB. Default: 1048576 (1 MiB).',
    ),
  groupCommitMaxMessages: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .describe(
      'Most messages written in one transaction (one fsync). Publishes arriving in the same event-loop turn ' +
        'are committed together; reaching this many commits at once. A single publish call is never split. Default: 1000.',
    ),
  retention: retentionSchema
    .default({})
    .describe(
      'How long messages are kept: maxMessagesPerTopic and/or maxAgeMs. Default: {} (keep everything).',
    ),
});

export type EmbeddedConfig = z.infer<typeof embeddedConfigSchema>;
