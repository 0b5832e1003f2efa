import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric the gateway exports, on one registry per gateway instance (no global registry, so
 * tests and several gateways in one process stay apart). Names: pubgate_<what>_<unit>.
 */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** HTTP answers by route template, method and status. */
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly httpDuration: Histogram<'route' | 'method'>;
  /** Messages published, by target and outcome (confirmed or an ADP_ERR_* code). */
  readonly publishMessages: Counter<'target' | 'outcome'>;
  /** Broker confirm latency per adapter publish call. */
  readonly publishDuration: Histogram<'target'>;
  readonly publishBytes: Counter<'target' | 'tenant'>;
  /** Requests refused by a policy or by validation, by tenant (or "anonymous") and code. */
  readonly rejected: Counter<'tenant' | 'code'>;
  /** 1 when the target's last health check passed. */
  readonly targetUp: Gauge<'target' | 'kind'>;
  readonly inFlight: Gauge;
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pubgate_' });
  const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    httpRequests: new Counter({
      name: 'pubgate_http_requests_total',
      help: 'HTTP requests answered, by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'pubgate_http_request_duration_seconds',
      help: 'Time from request to answer.',
      labelNames: ['route', 'method'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    publishMessages: new Counter({
      name: 'pubgate_publish_messages_total',
      help: 'Messages handed to a broker target, by outcome: confirmed or the adapter error code.',
      labelNames: ['target', 'outcome'],
      registers: [registry],
    }),
    publishDuration: new Histogram({
      name: 'pubgate_publish_duration_seconds',
      help: 'Time for a broker target to confirm (or fail) one publish call.',
      labelNames: ['target'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    publishBytes: new Counter({
      name: 'pubgate_publish_bytes_total',
      help: 'Payload bytes confirmed by a broker target, by tenant.',
      labelNames: ['target', 'tenant'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'pubgate_rejected_requests_total',
      help: 'Requests answered with a 4xx or 503 before reaching a broker, by tenant and error code.',
      labelNames: ['tenant', 'code'],
      registers: [registry],
    }),
    targetUp: new Gauge({
      name: 'pubgate_target_up',
      help: '1 when the broker target passed its last health check, else 0.',
      labelNames: ['target', 'kind'],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'pubgate_http_in_flight_requests',
      help: 'Requests being handled now.',
      registers: [registry],
    }),
  };
}
