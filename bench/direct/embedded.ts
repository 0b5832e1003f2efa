import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger, type BrokerAdapter } from '../../adapters/core/index.js';
import { embeddedAdapterKind } from '../../adapters/embedded/index.js';
import type { BenchTarget } from './types.js';

/** The embedded broker has no separate client: "direct" is its adapter, in process, no HTTP. */
export const embeddedBench: BenchTarget = {
  name: 'embedded',
  config: 'deploy/config/embedded.yaml',
  brokers: [],
  destination: (topic) => topic,
  createDirect() {
    let adapter: BrokerAdapter;
    let destination = '';
    return {
      async open(dest) {
        destination = dest;
        const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-bench-direct-'));
        const config = embeddedAdapterKind.configSchema.parse({ kind: 'embedded', dir });
        adapter = embeddedAdapterKind.create('bench', config, { logger: silentLogger });
        await adapter.connect();
      },
      async send(payload, id) {
        const [result] = await adapter.publish(
          [
            {
              id,
              tenant: 'bench',
              topic: destination,
              destination,
              payload,
              contentType: 'application/json',
              headers: {},
              createdAt: Date.now(),
            },
          ],
          { signal: AbortSignal.timeout(10_000) },
        );
        if (!result?.ok) throw result?.error ?? new Error('no result');
      },
      close: () => adapter.close(),
    };
  },
};
