/**
 * Contract target for the embedded broker. It lives inside the gateway process, so there is no
 * broker to bring up: every adapter gets its own temp directory (one process owns a database file),
 * and the consumer is the embedded broker's real reader, adapter.read(), polling the same database.
 * No restartBroker: restart durability is tested in adapters/embedded/embedded-adapter.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isReadable, silentLogger, type BrokerAdapter } from '../../../adapters/core/index.js';
import {
  createEmbeddedAdapter,
  embeddedConfigSchema,
  type EmbeddedAdapter,
} from '../../../adapters/embedded/index.js';
import type { ConsumedMessage, ContractTarget, TestConsumer } from '../target.js';

const POLL_INTERVAL_MS = 25;
const READ_PAGE = 500;

export function createEmbeddedTarget(): ContractTarget {
  let root: string | undefined;

  function rootDir(): string {
    root ??= mkdtempSync(path.join(tmpdir(), 'pubgate-contract-embedded-'));
    return root;
  }

  return {
    name: 'embedded',
    async setup() {
      rootDir();
    },
    createAdapter() {
      const dir = mkdtempSync(path.join(rootDir(), 'broker-'));
      return createEmbeddedAdapter(
        `contract-${randomUUID().slice(0, 8)}`,
        embeddedConfigSchema.parse({ kind: 'embedded', dir }),
        {
          logger: silentLogger,
        },
      );
    },
    async freshDestination() {
      return `contract.${Date.now()}.${randomUUID().slice(0, 8)}`;
    },
    async createConsumer(adapter: BrokerAdapter, destination: string): Promise<TestConsumer> {
      if (!isReadable(adapter))
        throw new Error(`adapter ${adapter.target} (${adapter.kind}) is not readable`);
      // Start at the destination's end, like a consumer subscribing "from latest": only messages
      // published after the consumer was created are received.
      const end = (adapter as Partial<EmbeddedAdapter>).endOffset;
      let next = end ? await end.call(adapter, destination) : 0n;
      const received: ConsumedMessage[] = [];
      let closed = false;
      return {
        async receive(count, timeoutMs) {
          const deadline = Date.now() + timeoutMs;
          while (received.length < count) {
            if (closed) throw new Error('consumer closed');
            const page = await adapter.read(destination, { from: next, limit: READ_PAGE });
            for (const message of page) {
              received.push({
                id: message.id,
                ...(message.key === undefined ? {} : { key: message.key }),
                contentType: message.contentType,
                headers: message.headers,
                payload: message.payload,
              });
              next = BigInt(message.offset) + 1n;
            }
            if (received.length >= count) break;
            if (Date.now() >= deadline) {
              throw new Error(
                `received ${received.length} of ${count} messages from ${destination} within ${timeoutMs} ms`,
              );
            }
            await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
          }
          return received.slice(0, count);
        },
        async close() {
          closed = true;
        },
      };
    },
    async teardown() {
      if (root !== undefined) rmSync(root, { recursive: true, force: true });
      root = undefined;
    },
  };
}
