/**
 * Contract target for the NATS JetStream adapter, against the machine's real nats-server.
 *
 * - Each run creates its own file-backed stream `PUBGATE_CONTRACT_<run id>` binding
 *   `<subjectPrefix>contract.<run id>.>`; each destination is a fresh subject under it, so runs
 *   never see each other's messages (the server is not clean). The stream expires its messages
 *   after an hour and is deleted at teardown, so a run that dies leaves little behind.
 * - The consumer is the NATS reader (adapters/nats/nats-reader.ts): an ordered consumer of the
 *   subject from the start of the stream. It reconnects by itself after the broker restart case
 *   and resumes after the last sequence it saw.
 * - restartBroker stops nats-server by pid and starts it again (deploy/local/brokers.ts); run the
 *   suite under the shared broker lock.
 */
import { randomUUID } from 'node:crypto';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { silentLogger, type BrokerAdapter } from '../../../adapters/core/index.js';
import { natsConfigSchema, type NatsConfig } from '../../../adapters/nats/config.js';
import { createNatsAdapter } from '../../../adapters/nats/nats-adapter.js';
import { createNatsReader } from '../../../adapters/nats/nats-reader.js';
import { ADDRESSES, ensureBrokers, restartBroker } from '../../../deploy/local/brokers.js';
import { consumerFromReader } from '../reader-consumer.js';
import { consumerTracker, type ContractTarget, type TestConsumer } from '../target.js';

export interface NatsTargetOptions {
  readonly servers?: string;
  /** The adapter's subjectPrefix (the stream binds the prefixed subjects). Default: "". */
  readonly subjectPrefix?: string;
}

const HOUR_NANOS = 3600 * 1e9;

/** Runs `action` with a JetStream manager on a short-lived connection. */
async function withManager<T>(
  servers: string,
  action: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>,
): Promise<T> {
  const nc = await natsConnect({ servers, reconnect: false, timeout: 5_000 });
  try {
    return await action(await jetstreamManager(nc, { timeout: 10_000 }));
  } finally {
    await nc.close().catch(() => {});
  }
}

export function createNatsTarget(options: NatsTargetOptions = {}): ContractTarget {
  const servers = options.servers ?? ADDRESSES.nats;
  const subjectPrefix = options.subjectPrefix ?? '';
  const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const stream = `PUBGATE_CONTRACT_${runId}`;
  let adapters = 0;
  let destinations = 0;
  const consumers = consumerTracker();
  const config = (extra: Partial<NatsConfig> = {}): NatsConfig =>
    natsConfigSchema.parse({
      kind: 'nats',
      servers,
      subjectPrefix,
      // Short backoff so the restart case recovers quickly.
      reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
      ...extra,
    });

  return {
    name: subjectPrefix === '' ? 'nats' : `nats (subjectPrefix ${subjectPrefix})`,

    async setup() {
      await ensureBrokers(['nats']);
      await withManager(servers, (jsm) =>
        jsm.streams.add({
          name: stream,
          subjects: [`${subjectPrefix}contract.${runId}.>`],
          storage: StorageType.File,
          max_age: HOUR_NANOS,
        }),
      );
    },

    createAdapter(): BrokerAdapter {
      adapters++;
      return createNatsAdapter(
        `nats-contract-${adapters}`,
        config({ connectionName: `pubgate-contract-${runId}-${adapters}` }),
        { logger: silentLogger },
      );
    },

    async freshDestination() {
      destinations++;
      return `contract.${runId}.d${destinations}`;
    },

    async createConsumer(_adapter: BrokerAdapter, destination: string): Promise<TestConsumer> {
      const reader = await createNatsReader(config(), { destination }, { logger: silentLogger });
      return consumers.track(consumerFromReader(reader, { dropRedeliveries: true }));
    },

    async restartBroker() {
      await restartBroker('nats');
    },

    async teardown() {
      await consumers.closeAll();
      await withManager(servers, (jsm) => jsm.streams.delete(stream)).catch(() => {
        // max_age empties it within the hour; the stream itself stays until someone deletes it.
      });
    },
  };
}
