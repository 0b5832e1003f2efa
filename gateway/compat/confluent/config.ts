import { z } from 'zod';

/** Options of the Confluent REST Proxy and Strimzi Kafka Bridge produce APIs (gateway/compat/confluent/). */
export const confluentCompatSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      'Serve the Confluent REST Proxy v2/v3 and Strimzi Kafka Bridge produce endpoints (/topics/..., /v3/clusters/...). Default: true.',
    ),
});
