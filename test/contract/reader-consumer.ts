/**
 * The contract suite's TestConsumer on top of an adapter kind's reader (adapters/<kind>/<kind>-reader.ts):
 * one piece of consumer code per broker, shared by the suites, the fault suite and `verify`.
 */
import type { DestinationReader, ReadMessage } from '../../adapters/core/index.js';
import type { TestConsumer } from './target.js';

export interface ReaderConsumerOptions {
  /**
   * Keep only the first delivery of each message id. Brokers that redeliver after a restart (an
   * ack or offset commit lost with the connection) would otherwise show a message twice.
   */
  readonly dropRedeliveries: boolean;
}

export interface ReaderConsumer extends TestConsumer {
  receive(count: number, timeoutMs: number): Promise<ReadMessage[]>;
}

export function consumerFromReader(
  reader: DestinationReader,
  options: ReaderConsumerOptions,
): ReaderConsumer {
  const messages = (): ReadMessage[] => {
    const all = reader.received();
    if (!options.dropRedeliveries) return [...all];
    const seen = new Set<string>();
    return all.filter((message) => !seen.has(message.id) && seen.add(message.id));
  };
  return {
    async receive(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const current = messages();
        if (current.length >= count) return current.slice(0, count);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`received ${current.length} of ${count} messages within ${timeoutMs} ms`);
        }
        // One more delivery (possibly a redelivery), then count again.
        await reader.waitForCount(reader.received().length + 1, left).catch((error: unknown) => {
          if (Date.now() < deadline) throw error;
        });
      }
    },
    close: () => reader.close(),
  };
}
