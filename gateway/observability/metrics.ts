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
  /** Topic requests (publish, batch, read) by tenant ("anonymous" before authentication) and outcome. */
  readonly tenantRequests: Counter<'tenant' | 'outcome'>;
  /** Request body bytes of those requests, by tenant and outcome. */
  readonly tenantBytes: Counter<'tenant' | 'outcome'>;
  /** 1 when the target's last health check passed. */
  readonly targetUp: Gauge<'target' | 'kind'>;
  readonly inFlight: Gauge;
  /** Outbox rows by state; read from the store at scrape time (see setOutboxCounts). */
  readonly outboxMessages: Gauge<'state'>;
  /** Delayed messages by outcome: scheduled (accepted with a delay), cancelled (DELETE before due). */
  readonly delayedMessages: Counter<'outcome'>;
  readonly outboxAppendDuration: Histogram;
  /** Relay publishes by target and outcome (confirmed or an ADP_ERR_* code). */
  readonly relayPublish: Counter<'target' | 'outcome'>;
  /** Retries of synchronous publishes and relayed messages, by target. */
  readonly publishRetries: Counter<'target'>;
  readonly deadLetters: Counter<'target'>;
  /** Dead letters deleted through the admin API, by target and action: delete (one id) or purge. */
  readonly deadLettersDeleted: Counter<'target' | 'action'>;
  /** Idempotency-Key outcomes: acquired, replayed, in-flight, mismatch, invalid, unavailable. */
  readonly idempotency: Counter<'outcome'>;
  /** Transactions decided, by decision (commit, rollback) and who decided (client, check, timeout). */
  readonly transactions: Counter<'decision' | 'decided_by'>;
  /** Circuit breaker state per target: 0 closed, 1 half-open, 2 open. */
  readonly breakerState: Gauge<'target'>;
  readonly breakerTransitions: Counter<'target' | 'to'>;
  /** Messages a route degraded (target cut off or failing): rejected, spooled or failed over. */
  readonly degraded: Counter<'route' | 'action'>;
  /** Messages published per route and chosen target (split/balance observation). */
  readonly routeTarget: Counter<'route' | 'target'>;
  /** Mirror copies to secondary targets, by outcome: confirmed, an ADP_ERR_* code or breaker-open. */
  readonly mirrorPublish: Counter<'target' | 'outcome'>;
  /** Installs the function the outbox gauge reads at scrape time. */
  setOutboxCounts(read: () => Promise<Record<string, number>>): void;
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  let readOutboxCounts: (() => Promise<Record<string, number>>) | undefined;
  collectDefaultMetrics({ register: registry, prefix: 'pubgate_' });
  // The default metrics give the heap and `external`; Buffers live outside the heap, in here.
  new Gauge({
    name: 'pubgate_nodejs_array_buffers_bytes',
    help: 'Memory of ArrayBuffers and Buffers (process.memoryUsage().arrayBuffers), part of external memory.',
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().arrayBuffers);
    },
  });
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
    tenantRequests: new Counter({
      name: 'pubgate_tenant_requests_total',
      help: 'Topic requests by tenant and outcome: accepted (2xx), throttled (429) or rejected (any other error).',
      labelNames: ['tenant', 'outcome'],
      registers: [registry],
    }),
    tenantBytes: new Counter({
      name: 'pubgate_tenant_bytes_total',
      help: 'Request body bytes by tenant and outcome (for requests refused before the body was read: the declared Content-Length).',
      labelNames: ['tenant', 'outcome'],
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
    outboxMessages: new Gauge({
      name: 'pubgate_outbox_messages',
      help: 'Outbox rows by state: queued (waiting for the relay, scheduled ones included), scheduled (delayed, not due yet), cancelled, confirmed, failed, dead.',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        if (!readOutboxCounts) return;
        try {
          const counts = await readOutboxCounts();
          for (const state of ['queued', 'scheduled', 'cancelled', 'confirmed', 'failed', 'dead'])
            this.set({ state }, counts[state] ?? 0);
        } catch {
          // The store is down; the gauge keeps its last values and the logs say why.
        }
      },
    }),
    delayedMessages: new Counter({
      name: 'pubgate_delayed_messages_total',
      help: 'Delayed messages (Deliver-After / Deliver-At), by outcome: scheduled (accepted into the outbox with a due time) or cancelled (DELETE /v1/messages/{id} before they were due).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    outboxAppendDuration: new Histogram({
      name: 'pubgate_outbox_append_duration_seconds',
      help: 'Time to append (and fsync) messages into the outbox.',
      buckets: latencyBuckets,
      registers: [registry],
    }),
    relayPublish: new Counter({
      name: 'pubgate_relay_publish_total',
      help: 'Messages the outbox relay handed to a target, by outcome: confirmed or the adapter error code.',
      labelNames: ['target', 'outcome'],
      registers: [registry],
    }),
    publishRetries: new Counter({
      name: 'pubgate_publish_retries_total',
      help: 'Publish retries after a retriable broker failure (sync publishes and the relay), by target.',
      labelNames: ['target'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'pubgate_dead_letters_total',
      help: 'Messages that became dead (last attempt, too old, or refused for good), by target.',
      labelNames: ['target'],
      registers: [registry],
    }),
    deadLettersDeleted: new Counter({
      name: 'pubgate_dead_letters_deleted_total',
      help: 'Dead letters deleted through the admin API, by target and action (delete: one id; purge: by tenant and topic, or all).',
      labelNames: ['target', 'action'],
      registers: [registry],
    }),
    transactions: new Counter({
      name: 'pubgate_transactions_total',
      help: 'Transactions decided, by decision (commit, rollback) and who decided (client; check: the check-back URL; timeout: the configured default).',
      labelNames: ['decision', 'decided_by'],
      registers: [registry],
    }),
    idempotency: new Counter({
      name: 'pubgate_idempotency_total',
      help: 'Requests with an Idempotency-Key, by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: 'pubgate_breaker_state',
      help: 'Circuit breaker of a broker target: 0 closed, 1 half-open (one probe allowed), 2 open.',
      labelNames: ['target'],
      registers: [registry],
    }),
    breakerTransitions: new Counter({
      name: 'pubgate_breaker_transitions_total',
      help: 'Circuit breaker state changes, by target and new state (open, half-open, closed).',
      labelNames: ['target', 'to'],
      registers: [registry],
    }),
    degraded: new Counter({
      name: 'pubgate_degraded_total',
      help: 'Messages a route degraded because its target was cut off or kept failing, by route pattern and action: reject, spool, failover, queue-behind-key (a spool route queued a message behind spooled messages of its key, to keep their order).',
      labelNames: ['route', 'action'],
      registers: [registry],
    }),
    routeTarget: new Counter({
      name: 'pubgate_route_target_total',
      help: 'Messages sent to a target on behalf of a route (by route pattern), before the outcome is known; shows splits and balancing.',
      labelNames: ['route', 'target'],
      registers: [registry],
    }),
    mirrorPublish: new Counter({
      name: 'pubgate_mirror_publish_total',
      help: 'Copies published to mirror secondaries, by target and outcome: confirmed, the adapter error code, or breaker-open. Never part of the answer.',
      labelNames: ['target', 'outcome'],
      registers: [registry],
    }),
    setOutboxCounts(read) {
      readOutboxCounts = read;
    },
  };
}
