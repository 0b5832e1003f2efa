import { z } from 'zod';
import { TOPIC_PATTERN_SYNTAX } from '../../../policies/acl/topic-pattern.js';

/** One Dapr pub/sub component name as pubgate answers it: which topics it reaches, and how. */
const pubsubSchema = z.strictObject({
  topics: z
    .array(
      z
        .string()
        .regex(
          TOPIC_PATTERN_SYNTAX,
          'a topic pattern: dot-separated segments of [A-Za-z0-9_-], `*` (one segment) or `**` (any)',
        ),
    )
    .min(1)
    .default(['**'])
    .describe(
      'Topic patterns (as the Dapr client names the topic, before `prefix`) this pub/sub may publish to; any other topic → 403 ERR_PUBSUB_FORBIDDEN. The tenant ACL and the routes still apply. Default: ["**"].',
    ),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/, 'topic segments, optionally ending in "."')
    .optional()
    .describe(
      'Prepended to the topic before routing (e.g. `orders.` turns Dapr topic `created` into `orders.created`). Default: none.',
    ),
});

/** Options of the Dapr pub/sub HTTP API (gateway/compat/dapr/). */
export const daprCompatSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Serve the Dapr pub/sub HTTP API (/v1.0/publish, /v1.0/metadata, ...). Default: true.'),
  pubsubs: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'a pub/sub name: [A-Za-z0-9_.-]'), pubsubSchema)
    .refine((map) => Object.keys(map).length > 0, 'name at least one pub/sub')
    .default({ pubsub: { topics: ['**'] } })
    .describe(
      'Dapr pub/sub component names clients may use (`/v1.0/publish/{name}/{topic}`), each `{topics: [patterns], prefix?}`: the topics it may publish to (as the client names them; default `["**"]`) and a prefix put before the topic for routing. An unknown name → 400 ERR_PUBSUB_NOT_FOUND. Default: one pub/sub named `pubsub` for every topic.',
    ),
  appId: z
    .string()
    .min(1)
    .default('pubgate')
    .describe(
      'The app id the API reports in GET /v1.0/metadata and puts in the CloudEvent `source` when the client gives no `cloudevent.source`. Default: pubgate.',
    ),
  keyMetadata: z
    .array(z.string().min(1))
    .default(['partitionKey', 'routingKey'])
    .describe(
      'Request metadata (`metadata.<name>` query parameters, or bulk entry metadata) whose value becomes the message key (ordering / partition / routing key); when several are given they must agree. Default: partitionKey, routingKey.',
    ),
});

export type DaprCompatConfig = z.output<typeof daprCompatSchema>;
