/**
 * The target pool across reloads: a changed target's new adapter is built beside the old one and
 * must connect (connectNew) before the gateway swaps it in. An embedded target keeping its dir is
 * handed over (the new adapter shares the old one's open file: no lock wait, no gap); a replacement
 * that cannot connect is reported after the bound, and closing its view leaves the old one serving.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { silentLogger, type BrokerAdapter, type MessageEnvelope } from '../../adapters/core/index.js';
import type { GatewayConfig } from '../config/schema.js';
import { createMetrics } from '../observability/metrics.js';
import { createTargetPool, type TargetPool } from './target-pool.js';

type Brokers = GatewayConfig['brokers'];

function envelope(n: number): MessageEnvelope {
  return {
    id: randomUUID(),
    tenant: 'unit',
    topic: 'pool',
    destination: 'pool',
    payload: new TextEncoder().encode(`{"n":${n}}`),
    contentType: 'application/json',
    headers: {},
    createdAt: Date.now(),
  };
}

async function offsetOf(adapter: BrokerAdapter, n: number): Promise<string> {
  const [result] = await adapter.publish([envelope(n)], { signal: AbortSignal.timeout(5_000) });
  assert.ok(result?.ok, JSON.stringify(result));
  return result.receipt.offset!;
}

describe('target pool: replacing a target on reload', () => {
  let dir: string;
  let pool: TargetPool;
  const embedded = (patch: Record<string, unknown> = {}): Brokers =>
    ({
      local: {
        kind: 'embedded',
        dir: path.join(dir, 'data'),
        maxMessageBytes: 1024 * 1024,
        groupCommitMaxMessages: 1000,
        retention: {},
        ...patch,
      },
    }) as Brokers;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pubgate-pool-'));
    pool = createTargetPool({ logger: silentLogger, metrics: createMetrics(), baseDir: dir });
  });
  afterEach(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands an embedded target keeping its dir over: connected at once, one log, no gap', async () => {
    const first = pool.plan(embedded());
    await first.connectAll();
    first.commit();
    const old = first.get('local');
    assert.equal(await offsetOf(old, 0), '0');

    const second = pool.plan(embedded({ groupCommitMaxMessages: 10 }));
    assert.deepEqual(second.changes, { kept: [], added: [], replaced: ['local'], removed: [] });
    const startedAt = Date.now();
    assert.deepEqual(await second.connectNew(5_000), []);
    assert.ok(Date.now() - startedAt < 1_000, 'no wait on the file lock');
    const replacement = second.get('local');
    assert.notEqual(replacement, old);
    assert.equal(second.connected('local'), true);

    // Both serve the same log until the old one is closed (its requests drained).
    assert.equal(await offsetOf(old, 1), '1');
    assert.equal(await offsetOf(replacement, 2), '2');
    second.commit();
    await first.close();
    assert.equal((await old.health()).ok, false);
    assert.equal(await offsetOf(replacement, 3), '3');
    assert.equal((await replacement.health()).ok, true);

    // Closing the last user closes the file: a fresh adapter can open it again.
    await second.close();
    const third = pool.plan(embedded());
    await third.connectAll();
    assert.equal(third.connected('local'), true);
    assert.equal(await offsetOf(third.get('local'), 4), '4');
    await third.close();
  });

  it('reports a replacement that cannot connect within the bound; the old adapter keeps serving', async () => {
    const first = pool.plan(embedded());
    await first.connectAll();
    first.commit();
    const old = first.get('local');

    writeFileSync(path.join(dir, 'file'), 'not a directory');
    const second = pool.plan(embedded({ dir: path.join(dir, 'file', 'data') }));
    assert.deepEqual(second.changes.replaced, ['local']);
    const startedAt = Date.now();
    const missing = await second.connectNew(700);
    assert.ok(Date.now() - startedAt >= 650, 'waited the bound, retries included');
    assert.equal(missing.length, 1);
    assert.equal(missing[0]!.target, 'local');
    assert.match(missing[0]!.error, /cannot create directory/);
    assert.equal(second.connected('local'), false);

    // The reload is refused: its view is closed without a commit; the old adapter is untouched.
    await second.close();
    assert.equal(first.connected('local'), true);
    assert.equal(await offsetOf(old, 0), '0');
    // The next plan still compares with the running (first) view.
    const again = pool.plan(embedded());
    assert.deepEqual(again.changes.kept, ['local']);
    await again.close();
    await first.close();
  });

  it('does not wait for kept targets, and waits for added ones', async () => {
    const first = pool.plan(embedded());
    await first.connectAll();
    first.commit();
    const brokers = {
      ...embedded(),
      other: {
        kind: 'embedded',
        dir: path.join(dir, 'other'),
        maxMessageBytes: 1024 * 1024,
        groupCommitMaxMessages: 1000,
        retention: {},
      },
    } as Brokers;
    const second = pool.plan(brokers);
    assert.deepEqual(second.changes, { kept: ['local'], added: ['other'], replaced: [], removed: [] });
    assert.deepEqual(await second.connectNew(5_000), []);
    assert.equal(second.connected('other'), true);
    assert.equal(second.get('local'), first.get('local'));
    await second.close();
    await first.close();
  });
});
