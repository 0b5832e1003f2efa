import { z } from 'zod';

/** Options of the Confluent REST Proxy and Strimzi Kafka Bridge produce APIs (gateway/compat/confluent/). */
export const confluentCompatSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      'Serve the Confluent REST Proxy v2/v3 and Strimzi Kafka Bridge produce endpoints (/topics/..., /v3/clusters/...). Default: true.',
    ),
  clusterId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, "_" or "-"')
    .default('pubgate')
    .describe(
      'The cluster id of the v3 API: returned by GET /v3/clusters and in every v3 delivery report. Default: pubgate.',
    ),
  requireClusterId: z
    .boolean()
    .default(false)
    .describe(
      'Refuse a v3 request whose path names another cluster_id than clusterId (404, error_code 404). Off, any cluster_id is accepted, as a self-managed REST Proxy does. Default: false.',
    ),
  v2Flavour: z
    .enum(['auto', 'confluent', 'strimzi'])
    .default('auto')
    .describe(
      "Which API answers on the shared v2 paths (POST /topics/{topic}[/partitions/{p}]). `confluent`: REST Proxy answers and 5-digit error codes. `strimzi`: Kafka Bridge answers ({offsets:[{partition,offset}]}, 3-digit error codes). `auto`: Strimzi's for a request that uses a form only the bridge has (the `text` embedded format or an `async` query parameter), Confluent's otherwise. Both request forms (record `headers` included) are accepted whatever the flavour. Default: auto.",
    ),
});

export type ConfluentCompatConfig = z.output<typeof confluentCompatSchema>;
