/**
 * A broker's own client, used the way a service would use it without pubgate, at the same
 * durability the gateway's adapter uses. The benchmark runs it at the same concurrency as the
 * HTTP load, so the ratio shows what the gateway costs (or saves, where it batches).
 */
export interface DirectClient {
  /** Connects, and prepares `destination` (e.g. creates the topic). */
  open(destination: string): Promise<void>;
  /** Publishes one message and resolves after the broker's durable confirm. */
  send(payload: Buffer, id: string): Promise<void>;
  close(): Promise<void>;
}

export interface BenchTarget {
  readonly name: string;
  /** Example config the gateway runs with (every topic routed to this broker). */
  readonly config: string;
  /** Brokers to bring up first (names of deploy/local/brokers.ts). */
  readonly brokers: readonly string[];
  createDirect(): DirectClient;
  /** Makes `topic` publishable through the gateway (a bound queue, a created topic). */
  prepare?(topic: string): Promise<void>;
  /**
   * Environment that points the example config at an endpoint where nothing listens (the relay
   * drain bench builds its backlog with it). Absent: the broker cannot be made unreachable
   * (embedded) and the drain is not measured.
   */
  readonly unreachableEnv?: Record<string, string>;
  /** Destination name for a topic on this broker (e.g. RocketMQ maps dots). */

  destination(topic: string): string;
}
