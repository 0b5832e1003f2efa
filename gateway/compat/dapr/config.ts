import { z } from 'zod';

/** Options of the Dapr pub/sub HTTP API (gateway/compat/dapr/). */
export const daprCompatSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe('Serve the Dapr pub/sub HTTP API (/v1.0/publish, /v1.0/metadata, ...). Default: true.'),
});
