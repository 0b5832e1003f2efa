import { z } from 'zod';

/** Options of RabbitMQ's management HTTP publish (gateway/compat/rabbitmq-http/). */
export const rabbitmqHttpCompatSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      'Serve RabbitMQ management publish (POST /api/exchanges/{vhost}/{exchange}/publish). Default: true.',
    ),
});
