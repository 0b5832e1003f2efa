import { z } from 'zod';

/** Options of RabbitMQ's management HTTP publish (gateway/compat/rabbitmq-http/). */
export const rabbitmqHttpCompatSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      'Serve RabbitMQ management publish (POST /api/exchanges/{vhost}/{exchange}/publish). Default: true.',
    ),
  vhosts: z
    .array(z.string().min(1))
    .min(1)
    .default(['/'])
    .describe(
      'Virtual hosts accepted in the path (decoded: `/` is written %2F); any other → 404 Object Not Found. The vhost only selects the endpoint: where a message goes is decided by its topic and the routes. Default: ["/"].',
    ),
  exchanges: z
    .record(
      z.string().min(1),
      z
        .string()
        .min(1)
        .describe('The topic: a template where `{routing_key}` is replaced by the routing key.'),
    )
    .default({ 'amq.default': '{routing_key}' })
    .describe(
      'Exchange name in the path (`amq.default` = the default exchange) → pubgate topic template; `{routing_key}` is replaced by the body\'s routing_key. Besides these, the `exchange` of every configured rabbitmq broker target is accepted with topic = routing_key. Any other exchange → 404 Object Not Found. Default: {"amq.default": "{routing_key}"}.',
    ),
  basicAuthUsername: z
    .enum(['ignored', 'tenant'])
    .default('ignored')
    .describe(
      'HTTP Basic credentials: the password is a pubgate API key (or JWT). `ignored`: any username. `tenant`: the username must be the tenant the key belongs to (401 otherwise). `Authorization: Bearer` is accepted too. Default: ignored.',
    ),
});

export type RabbitmqHttpCompatConfig = z.output<typeof rabbitmqHttpCompatSchema>;
