import type { BrokerAdapter } from '../../adapters/core/index.js';

/** A message as a real consumer of the broker received it, decoded with fromWireHeaders. */
export interface ConsumedMessage {
  readonly id: string;
  readonly key?: string;
  readonly contentType: string;
  /** User headers only (the gateway's own wire headers removed). */
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: Uint8Array;
}

/** A real consumer of one destination, created before publishing so nothing is missed. */
export interface TestConsumer {
  /**
   * Resolves with the first `count` messages received, in the order the broker delivered them, or
   * rejects after `timeoutMs` naming how many arrived.
   */
  receive(count: number, timeoutMs: number): Promise<ConsumedMessage[]>;
  close(): Promise<void>;
}

/**
 * The consumers a target opened, so teardown can close the ones a failed test left open.
 * track() hands back the consumer with a close() that also forgets it.
 */
export function consumerTracker() {
  const open = new Set<TestConsumer>();
  return {
    track(consumer: TestConsumer): TestConsumer {
      open.add(consumer);
      return {
        receive: (count, timeoutMs) => consumer.receive(count, timeoutMs),
        async close() {
          open.delete(consumer);
          await consumer.close();
        },
      };
    },
    async closeAll(): Promise<void> {
      const left = [...open];
      open.clear();
      await Promise.all(left.map((consumer) => consumer.close().catch(() => {})));
    },
  };
}

export interface DestinationOptions {
  /** The destination must keep per-key order (e.g. a RocketMQ FIFO topic). */
  readonly ordered?: boolean;
}

/**
 * One broker the contract suite runs against. Each broker adds one file in targets/ exporting one
 * of these; the suite never branches on the broker's name, only on adapter.capabilities.
 */
export interface ContractTarget {
  /** Display name for the test titles. */
  readonly name: string;
  /** Brings up whatever the target needs (e.g. checks the broker is healthy). Fails loudly. */
  setup(): Promise<void>;
  /** A new adapter for a unique target name; the suite connects and closes it. */
  createAdapter(): BrokerAdapter;
  /** A destination name that no earlier run has used (brokers are not assumed clean). */
  freshDestination(options?: DestinationOptions): Promise<string>;
  /** A real consumer of that destination, ready to receive before the suite publishes. */
  createConsumer(adapter: BrokerAdapter, destination: string): Promise<TestConsumer>;
  /**
   * Restarts the broker (stop then start, waiting until healthy). Absent for a broker that lives
   * inside the gateway process (the embedded one), whose restart durability is tested on its own.
   */
  restartBroker?(): Promise<void>;
  teardown(): Promise<void>;
}
