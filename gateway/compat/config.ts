/**
 * The compatible APIs (see gateway/compat/): each is on by default and can be switched off. Each
 * API keeps its own options in its folder; this file only gathers them under `compat`.
 */
import { z } from 'zod';
import { confluentCompatSchema } from './confluent/config.js';
import { daprCompatSchema } from './dapr/config.js';
import { rabbitmqHttpCompatSchema } from './rabbitmq-http/config.js';

export const compatSchema = z.strictObject({
  dapr: daprCompatSchema.default(daprCompatSchema.parse({})),
  confluent: confluentCompatSchema.default(confluentCompatSchema.parse({})),
  rabbitmqHttp: rabbitmqHttpCompatSchema.default(rabbitmqHttpCompatSchema.parse({})),
});

export type CompatConfig = z.output<typeof compatSchema>;
