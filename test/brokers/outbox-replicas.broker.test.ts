/**
 * Two gateway replicas sharing one PostgreSQL outbox (the machine's PostgreSQL, db `test`, a table
 * of this run) in front of the machine's RabbitMQ — the multi-replica setup of deploy/kubernetes:
 *  1. Both accept async publishes (202) and both relays drain the one table: every message reaches
 *     the broker exactly once (leases: never two relays on one row).
 *  2. A replica killed right after the broker confirmed a relay batch (before the outbox recorded
 *     it) loses nothing: the other replica takes its leased rows over once the lease ran out and
 *     publishes them again (duplicates by id, allowed), and the rest as usual.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { silentLogger, type DestinationReader } from '../../adapters/core/index.js';
import { rabbitmqConfigSchema } from '../../adapters/rabbitmq/config.js';
import { createReader } from '../../adapters/registry.js';
import { ADDRESSES } from '../../deploy/local/brokers.js';
import { analyzeDelivery } from '../../gateway/verify/analyze.js';
import { metric } from '../http/held-request.js';
import { startGatewayProcess, waitForReady, type GatewayProcess } from '../support/gateway-process.js';

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const EXCHANGE = 'pubgate.replicas';
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const table = `pubgate_outbox_replicas_${run}`;
/** Long next to publishTimeoutMs, so a live relay never loses its lease mid-publish. */
const LEASE_MS = 8_000;
const rabbit = { kind: 'rabbitmq', url: ADDRESSES.rabbitmq, exchange: EXCHANGE, exchangeType: 'topic' };

function replicaConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    log: { level: 'warn' },
    server: { publishTimeoutMs: 2_000 },
    brokers: { rabbit },
    routes: [{ topic: 'replicas.**', target: 'rabbit', delivery: 'async' }],
    tenants: { dev: { keys: ['dev-key'], topics: ['replicas.**'] } },
    stores: { outbox: { kind: 'postgres', url: PG_URL, table } },
    reliability: { relay: { leaseMs: LEASE_MS, pollIntervalMs: 200 } },
    ...extra,
  };
}

/** A real consumer of `topic`, reading the broker directly; started before anything is published. */
function readerOf(topic: string): Promise<DestinationReader> {
  return createReader(
    'replicas-reader',
    rabbitmqConfigSchema.parse(rabbit),
    { destination: topic },
    { logger: silentLogger },
  );
}

/** Publishes with a client-chosen id; resolves with the status (and problem code), or `gone`. */
async function publishAsync(url: string, topic: string, id: string, i: number): Promise<string> {
  try {
    const res = await fetch(`${url}/v1/topics/${topic}/messages`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer dev-key',
        'content-type': 'application/json',
        'message-id': id,
        'message-key': `k${i % 5}`,
      },
      body: JSON.stringify({ i }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { code?: string };
    return res.status === 202 ? '202' : `${res.status} ${body.code ?? ''}`.trim();
  } catch {
    return 'gone'; // the replica is gone (scenario 2): not answered, though it may be in the outbox
  }
}

/** Runs `task` over `items` with at most `limit` in flight: clients of a gateway, not a flood. */
async function inFlight<T, R>(items: readonly T[], limit: number, task: (item: T, i: number) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** How many answers of each kind, e.g. `{"202": 298, "503 GW_ERR_OVERLOADED": 2}`. */
const tally = (answers: readonly string[]) =>
  JSON.stringify(answers.reduce<Record<string, number>>((t, a) => ({ ...t, [a]: (t[a] ?? 0) + 1 }), {}));

/**
 * Waits until every id in `expected` arrived (or `timeoutMs`), then until the reader is idle.
 * `mayArrive`: ids sent but never answered 2xx (they may or may not have been kept).
 */
async function readBack(
  reader: DestinationReader,
  expected: readonly string[],
  timeoutMs: number,
  mayArrive: readonly string[] = [],
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const seen = new Set(reader.received().map((m) => m.id));
    if (expected.every((id) => seen.has(id))) break;
    await reader.waitForCount(reader.received().length + 1, 1_000).catch(() => {});
  }
  await reader.waitForIdle(2_000, 30_000);
  return analyzeDelivery(reader.received(), expected, { mayArrive });
}

describe('two replicas sharing a PostgreSQL outbox', { concurrency: false }, () => {
  const replicas: GatewayProcess[] = [];
  const readers: DestinationReader[] = [];
  const start = async (extra?: Record<string, unknown>) => {
    const replica = await startGatewayProcess(replicaConfig(extra));
    replicas.push(replica);
    await waitForReady(replica.url);
    return replica;
  };

  after(async () => {
    await Promise.all(readers.map((r) => r.close().catch(() => {})));
    await Promise.all(replicas.map((r) => r.dispose()));
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  });

  it('both relays drain the one table; every message reaches the broker exactly once', async () => {
    const topic = `replicas.share.${run}`;
    const reader = await readerOf(topic);
    readers.push(reader);
    const [a, b] = await Promise.all([start(), start()]);
    const N = 300;
    const ids = Array.from({ length: N }, (_, i) => `replicas-${run}-share-${i}`);
    // 16 callers per replica: what this test is about is the relays, not overload shedding.
    const answers = await inFlight(ids, 32, (id, i) =>
      publishAsync(i % 2 === 0 ? a!.url : b!.url, topic, id, i),
    );
    assert.ok(
      answers.every((a) => a === '202'),
      `every publish answered 202; answers: ${tally(answers)}`,
    );
    const report = await readBack(reader, ids, 60_000);
    assert.deepEqual(report.lost, [], 'accepted but never delivered');
    assert.deepEqual(report.unexpected, []);
    assert.deepEqual(report.duplicates, [], 'no row was published by both relays');
    const relayed = await Promise.all(
      [a!, b!].map(
        async (r) =>
          (await metric(r.url, 'pubgate_relay_publish_total{target="rabbit",outcome="confirmed"}')) ?? 0,
      ),
    );
    process.stdout.write(`two replicas: relayed ${relayed.join(' + ')} of ${N}\n`);
    assert.equal(relayed[0]! + relayed[1]!, N, `relayed per replica: ${relayed.join(' + ')}`);
    await Promise.all([a!.dispose(), b!.dispose()]);
  });

  it('a replica killed after a broker ack loses nothing: the other takes its rows over', async () => {
    const topic = `replicas.crash.${run}`;
    const reader = await readerOf(topic);
    readers.push(reader);
    const survivor = await start();
    const doomed = await start({ faults: { crashAt: 'after-broker-ack' } });
    // A burst at the doomed replica: its relay dies on its first broker ack, with some of the burst
    // accepted (202) and in the table, leased by it or not yet claimed.
    const sent = Array.from({ length: 50 }, (_, i) => `replicas-${run}-crash-${i}`);
    const answers = await Promise.all(sent.map((id, i) => publishAsync(doomed.url, topic, id, i)));
    const accepted = sent.filter((_, i) => answers[i] === '202');
    const unanswered = sent.filter((_, i) => answers[i] !== '202');
    const exit = await Promise.race([doomed.exited(), sleep(30_000, 'still running')]);
    assert.equal(exit, 'SIGKILL', 'the replica killed itself at the crash point');
    assert.ok(accepted.length > 0, 'the doomed replica accepted messages before it died');

    // The survivor confirms everything: the rows the dead replica had leased once LEASE_MS passed.
    const statusOf = async (id: string) => {
      const res = await fetch(`${survivor.url}/v1/messages/${id}`, {
        headers: { authorization: 'Bearer dev-key' },
      });
      return ((await res.json()) as { status?: string }).status;
    };
    const deadline = Date.now() + LEASE_MS + 60_000;
    let pending = [...accepted];
    while (pending.length > 0 && Date.now() < deadline) {
      const states = await Promise.all(pending.map(statusOf));
      pending = pending.filter((_, i) => states[i] !== 'confirmed');
      if (pending.length > 0) await sleep(250);
    }
    assert.deepEqual(pending, [], 'messages the survivor never recorded confirmed');

    const report = await readBack(reader, accepted, 30_000, unanswered);
    process.stdout.write(
      `replica takeover: accepted=${accepted.length} delivered=${report.distinct} duplicates=${report.duplicates.length}\n`,
    );
    assert.deepEqual(report.lost, [], 'accepted by the dead replica but never delivered');
    assert.deepEqual(report.unexpected, []);
    // The dead replica's last batch reached the broker before it died; the survivor sent it again.
    assert.ok(report.duplicates.length > 0, 'the survivor re-published the rows the dead replica held');
  });
});
