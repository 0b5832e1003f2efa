import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  AdapterError,
  publishSettled,
  silentLogger,
  type MessageEnvelope,
  type PublishResult,
} from '../core/index.js';
import { embeddedConfigSchema, type EmbeddedConfig } from './config.js';
import { createEmbeddedAdapter, type EmbeddedAdapter } from './embedded-adapter.js';
import { DATABASE_FILE_NAME } from './config.js';

const signal = () => AbortSignal.timeout(10_000);

function envelope(destination: string, overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  return {
    id: randomUUID(),
    tenant: 'unit',
    topic: destination,
    destination,
    payload: new TextEncoder().encode('{"n":1}'),
    contentType: 'application/json',
    headers: {},
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

function okOffset(result: PublishResult | undefined): string {
  assert.ok(result, 'missing result');
  if (!result.ok) assert.fail(`publish failed: ${result.error.code} ${result.error.message}`);
  assert.ok(result.receipt.offset !== undefined);
  return result.receipt.offset;
}

describe('embedded adapter', () => {
  let dir: string;
  const open: EmbeddedAdapter[] = [];

  function adapter(
    config: Partial<EmbeddedConfig> = {},
    now?: () => number,
    replaces?: EmbeddedAdapter,
  ): EmbeddedAdapter {
    const parsed = embeddedConfigSchema.parse({ kind: 'embedded', dir: 'broker', ...config });
    const created = createEmbeddedAdapter('local', parsed, {
      logger: silentLogger,
      baseDir: dir,
      ...(now ? { now } : {}),
      ...(replaces ? { replaces } : {}),
    });
    open.push(created);
    return created;
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pubgate-embedded-'));
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((a) => a.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the directory, resolves it against baseDir and reports healthy', async () => {
    const a = adapter({ dir: 'nested/broker' });
    assert.equal(a.file, path.join(dir, 'nested', 'broker', DATABASE_FILE_NAME));
    assert.deepEqual(await a.health(), { ok: false, detail: `not connected (${a.file})` });
    await a.connect();
    assert.ok(existsSync(a.file));
    const health = await a.health();
    assert.equal(health.ok, true);
    assert.match(health.detail ?? '', new RegExp(DATABASE_FILE_NAME));
  });

  it('numbers each destination 0, 1, 2, ... independently and returns offsets in receipts', async () => {
    const a = adapter();
    await a.connect();
    const results = await a.publish(
      [
        envelope('orders'),
        envelope('payments'),
        envelope('orders'),
        envelope('orders'),
        envelope('payments'),
      ],
      { signal: signal() },
    );
    assert.deepEqual(results.map(okOffset), ['0', '0', '1', '2', '1']);
    for (const result of results) {
      assert.ok(result.ok);
      assert.equal(result.receipt.broker, 'embedded');
      assert.equal(result.receipt.target, 'local');
    }
    assert.equal(await a.endOffset('orders'), 3n);
    assert.equal(await a.endOffset('payments'), 2n);
    assert.equal(await a.endOffset('never-written'), 0n);
  });

  it('stores every field and reads it back intact', async () => {
    const a = adapter();
    await a.connect();
    const binary = envelope('d', {
      key: 'k-1',
      headers: { traceparent: '00-abc-def-01', 'ce-type': 'x' },
      payload: new Uint8Array([0, 1, 254, 255, 10, 13]),
      contentType: 'application/octet-stream',
      createdAt: 1234,
    });
    const keyless = envelope('d', { topic: 'logical.topic' });
    await a.publish([binary, keyless], { signal: signal() });
    const [first, second] = await a.read('d', { from: 0n, limit: 10 });
    assert.ok(first && second);
    assert.equal(first.id, binary.id);
    assert.equal(first.tenant, 'unit');
    assert.equal(first.key, 'k-1');
    assert.deepEqual(first.headers, binary.headers);
    assert.equal(first.contentType, 'application/octet-stream');
    assert.deepEqual(Buffer.from(first.payload), Buffer.from(binary.payload));
    assert.equal(first.offset, '0');
    assert.equal(first.createdAt, 1234);
    assert.equal('key' in second, false);
    assert.equal(second.topic, 'logical.topic');
    assert.equal(second.offset, '1');
  });

  it('pages reads with from/limit, in offset order', async () => {
    const a = adapter();
    await a.connect();
    const sent = Array.from({ length: 25 }, (_, i) => envelope('paged', { headers: { seq: String(i) } }));
    await a.publish(sent, { signal: signal() });
    const seen: string[] = [];
    let from = 0n;
    for (;;) {
      const page = await a.read('paged', { from, limit: 10 });
      if (page.length === 0) break;
      assert.ok(page.length <= 10);
      seen.push(...page.map((m) => m.id));
      from = BigInt(page.at(-1)!.offset) + 1n;
    }
    assert.deepEqual(
      seen,
      sent.map((m) => m.id),
    );
    assert.deepEqual(
      (await a.read('paged', { from: 20n, limit: 100 })).map((m) => m.offset),
      ['20', '21', '22', '23', '24'],
    );
    assert.deepEqual(await a.read('paged', { from: 25n, limit: 10 }), []);
    assert.deepEqual(await a.read('paged', { from: 0n, limit: 0 }), []);
    assert.deepEqual(await a.read('other', { from: 0n, limit: 10 }), []);
  });

  it('survives a restart: a new adapter on the same dir reads everything and continues the offsets', async () => {
    const first = adapter();
    await first.connect();
    const before = [envelope('durable', { key: 'a' }), envelope('durable', { key: 'b' })];
    await first.publish(before, { signal: signal() });
    await first.close();

    const second = adapter();
    await second.connect();
    const after = envelope('durable', { key: 'c' });
    const [result] = await second.publish([after], { signal: signal() });
    assert.equal(okOffset(result), '2');
    const stored = await second.read('durable', { from: 0n, limit: 10 });
    assert.deepEqual(
      stored.map((m) => [m.id, m.offset]),
      [...before, after].map((m, i) => [m.id, String(i)]),
    );
  });

  it('keeps messages accepted just before close (close flushes the pending group)', async () => {
    const a = adapter();
    await a.connect();
    const pending = a.publish([envelope('flush')], { signal: signal() });
    await a.close();
    const [result] = await pending;
    assert.equal(okOffset(result), '0');

    const reopened = adapter();
    await reopened.connect();
    assert.equal((await reopened.read('flush', { from: 0n, limit: 10 })).length, 1);
  });

  it('group commit: concurrent publishes share one transaction, and each gets its own result', async () => {
    const a = adapter();
    await a.connect();
    const calls = Array.from({ length: 100 }, (_, i) =>
      a.publish([envelope(`group-${i % 3}`, { headers: { call: String(i) } })], { signal: signal() }),
    );
    const results = await Promise.all(calls);
    assert.deepEqual(a.stats(), { transactions: 1, messages: 100 });
    // Results fan back to their own callers: call i got the offset of its own message.
    for (let i = 0; i < 100; i++) {
      const offset = okOffset(results[i]![0]);
      const [stored] = await a.read(`group-${i % 3}`, { from: BigInt(offset), limit: 1 });
      assert.equal(stored?.headers.call, String(i));
    }
  });

  it('group commit: groupCommitMaxMessages bounds a transaction without splitting a call', async () => {
    const a = adapter({ groupCommitMaxMessages: 10 });
    await a.connect();
    const singles = Array.from({ length: 45 }, () => a.publish([envelope('bounded')], { signal: signal() }));
    const big = a.publish(
      Array.from({ length: 25 }, () => envelope('bounded')),
      { signal: signal() },
    );
    await Promise.all([...singles, big]);
    // 45 singles in groups of 10 (5 transactions: 10+10+10+10+5), the 25-message call alone in one.
    assert.deepEqual(a.stats(), { transactions: 6, messages: 70 });
    assert.equal(await a.endOffset('bounded'), 70n);
  });

  it('one-at-a-time publishes commit one transaction each', async () => {
    const a = adapter();
    await a.connect();
    for (let i = 0; i < 5; i++) await a.publish([envelope('serial')], { signal: signal() });
    assert.deepEqual(a.stats(), { transactions: 5, messages: 5 });
  });

  it('keeps per-destination order across interleaved concurrent batches', async () => {
    const a = adapter({ groupCommitMaxMessages: 7 });
    await a.connect();
    const sent: MessageEnvelope[] = [];
    const calls = [];
    for (let call = 0; call < 20; call++) {
      const batch = Array.from({ length: 3 }, () => envelope('ordered', { key: `k${call % 2}` }));
      sent.push(...batch);
      calls.push(a.publish(batch, { signal: signal() }));
    }
    await Promise.all(calls);
    const stored = await a.read('ordered', { from: 0n, limit: 100 });
    assert.deepEqual(
      stored.map((m) => m.id),
      sent.map((m) => m.id),
    );
  });

  it('refuses an oversize message before writing and still writes the rest of the batch', async () => {
    const a = adapter({ maxMessageBytes: 2048 });
    await a.connect();
    assert.equal(a.capabilities.maxMessageBytes, 2048);
    const big = envelope('sizes', { payload: new Uint8Array(2048) });
    const small = envelope('sizes');
    const [bigResult, smallResult] = await a.publish([big, small], { signal: signal() });
    assert.ok(bigResult && !bigResult.ok);
    assert.equal(bigResult.error.code, 'ADP_ERR_TOO_LARGE');
    assert.equal(bigResult.error.retriable, false);
    assert.equal(okOffset(smallResult), '0');
    assert.deepEqual(
      (await a.read('sizes', { from: 0n, limit: 10 })).map((m) => m.id),
      [small.id],
    );
  });

  it('refuses an empty or over-long destination per message', async () => {
    const a = adapter();
    await a.connect();
    const results = await a.publish([envelope(''), envelope('x'.repeat(250)), envelope('x'.repeat(249))], {
      signal: signal(),
    });
    assert.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.error.code)),
      ['ADP_ERR_INVALID_DESTINATION', 'ADP_ERR_INVALID_DESTINATION', 'ok'],
    );
  });

  it('answers an aborted signal with ADP_ERR_ABORTED, and withdraws a call aborted before its commit', async () => {
    const a = adapter();
    await a.connect();
    const controller = new AbortController();
    controller.abort(new Error('gave up'));
    await assert.rejects(a.publish([envelope('abort')], { signal: controller.signal }), {
      code: 'ADP_ERR_ABORTED',
      ambiguous: false,
    });

    const late = new AbortController();
    const pending = a.publish([envelope('abort')], { signal: late.signal });
    late.abort(new Error('deadline'));
    await assert.rejects(pending, { code: 'ADP_ERR_ABORTED', ambiguous: false });
    assert.deepEqual(await a.read('abort', { from: 0n, limit: 10 }), []);
    assert.deepEqual(a.stats(), { transactions: 0, messages: 0 });
  });

  it('fails before connect with ADP_ERR_UNAVAILABLE, and after close with ADP_ERR_CLOSED', async () => {
    const a = adapter();
    await assert.rejects(a.publish([envelope('c')], { signal: signal() }), { code: 'ADP_ERR_UNAVAILABLE' });
    await a.connect();
    await a.connect(); // idempotent
    await Promise.all([a.close(), a.close()]);
    await a.close();
    const [result] = await publishSettled(a, [envelope('c')], { signal: signal() });
    assert.ok(result && !result.ok);
    assert.equal(result.error.code, 'ADP_ERR_CLOSED');
    assert.equal(result.error.retriable, false);
    await assert.rejects(a.read('c', { from: 0n, limit: 1 }), { code: 'ADP_ERR_CLOSED' });
    await assert.rejects(a.connect(), { code: 'ADP_ERR_CLOSED' });
    assert.equal((await a.health()).ok, false);
  });

  it('fails connect with a clear error naming the path when the directory cannot be created', async () => {
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const a = adapter({ dir: path.join(blocker, 'broker') });
    await assert.rejects(a.connect(), (error: unknown) => {
      assert.ok(error instanceof AdapterError);
      assert.equal(error.code, 'ADP_ERR_UNAVAILABLE');
      assert.equal(error.retriable, true);
      assert.ok(error.message.includes(blocker), error.message);
      return true;
    });
  });

  // Skipped through the option, not t.skip(): node 20 runs no afterEach (temp dir cleanup) after t.skip().
  const asRoot = process.getuid?.() === 0;
  it(
    'fails connect with a clear error naming the file when the directory is not writable',
    {
      skip: asRoot && 'running as root: permission bits do not stop root (the ENOTDIR case covers the path)',
    },
    async () => {
      const readOnly = path.join(dir, 'read-only');
      const a = adapter({ dir: readOnly });
      await a.connect();
      await a.close();
      rmSync(path.join(readOnly, DATABASE_FILE_NAME));
      chmodSync(readOnly, 0o555);
      try {
        const b = adapter({ dir: readOnly });
        await assert.rejects(b.connect(), (error: unknown) => {
          assert.ok(error instanceof AdapterError);
          assert.equal(error.code, 'ADP_ERR_UNAVAILABLE');
          assert.ok(error.message.includes(readOnly), error.message);
          return true;
        });
      } finally {
        chmodSync(readOnly, 0o755);
      }
    },
  );

  it('refuses a second adapter on the same directory while the first one owns it', async () => {
    const first = adapter();
    await first.connect();
    await first.publish([envelope('owned')], { signal: signal() });
    const second = adapter();
    const startedAt = Date.now();
    await assert.rejects(second.connect(), (error: unknown) => {
      assert.ok(error instanceof AdapterError);
      assert.equal(error.code, 'ADP_ERR_UNAVAILABLE');
      assert.match(error.message, /locked/);
      assert.ok(error.message.includes(first.file));
      return true;
    });
    // At once: better-sqlite3 is synchronous, so waiting for the lock would freeze the event loop.
    assert.ok(Date.now() - startedAt < 500, `connect took ${Date.now() - startedAt} ms`);
    // The owner is unaffected.
    const [result] = await first.publish([envelope('owned')], { signal: signal() });
    assert.equal(okOffset(result), '1');
  });

  it('takes the open file over from the adapter it replaces (live reload), with its own settings', async () => {
    const old = adapter();
    await old.connect();
    okOffset((await old.publish([envelope('handover')], { signal: signal() }))[0]);
    const next = adapter({ retention: { maxMessagesPerTopic: 2 }, maxMessageBytes: 2048 }, undefined, old);
    await next.connect();
    assert.equal((await next.health()).ok, true);
    // Both write the one log until the old one is closed: offsets continue, no gap, no repeat.
    assert.equal(okOffset((await old.publish([envelope('handover')], { signal: signal() }))[0]), '1');
    assert.equal(okOffset((await next.publish([envelope('handover')], { signal: signal() }))[0]), '2');
    // The new settings are the new adapter's: its append applies maxMessagesPerTopic 2.
    assert.deepEqual(
      (await next.read('handover', { from: 0n, limit: 10 })).map((m) => m.offset),
      ['1', '2'],
    );
    const big = envelope('handover', { payload: new Uint8Array(4096) });
    assert.equal((await old.publish([big], { signal: signal() }))[0]?.ok, true);
    assert.equal((await next.publish([big], { signal: signal() }))[0]?.ok, false);

    await old.close();
    assert.equal((await old.health()).ok, false);
    assert.equal(okOffset((await next.publish([envelope('handover')], { signal: signal() }))[0]), '4');
    await next.close();
    // The last user closed the file: a fresh adapter opens it and finds the log.
    const reopened = adapter();
    await reopened.connect();
    assert.equal(await reopened.endOffset('handover'), 5n);
  });

  it('opens its own file when the adapter it replaces used another dir', async () => {
    const old = adapter();
    await old.connect();
    const next = adapter({ dir: 'elsewhere' }, undefined, old);
    await next.connect();
    assert.equal(okOffset((await next.publish([envelope('moved')], { signal: signal() }))[0]), '0');
    assert.notEqual(next.file, old.file);
    await old.close();
    assert.equal((await next.health()).ok, true);
  });

  it("stores a duplicate envelope twice with the same id (dedup is the reliability layer's job)", async () => {
    const a = adapter();
    await a.connect();
    const message = envelope('dupes');
    await a.publish([message], { signal: signal() });
    await a.publish([message], { signal: signal() });
    const stored = await a.read('dupes', { from: 0n, limit: 10 });
    assert.deepEqual(
      stored.map((m) => [m.id, m.offset]),
      [
        [message.id, '0'],
        [message.id, '1'],
      ],
    );
  });

  it('retention by count keeps the newest messages per destination; offsets continue', async () => {
    const a = adapter({ retention: { maxMessagesPerTopic: 3 } });
    await a.connect();
    await a.publish(
      Array.from({ length: 5 }, () => envelope('bounded-log')),
      { signal: signal() },
    );
    await a.publish([envelope('other')], { signal: signal() });
    assert.deepEqual(
      (await a.read('bounded-log', { from: 0n, limit: 10 })).map((m) => m.offset),
      ['2', '3', '4'],
    );
    const [result] = await a.publish([envelope('bounded-log')], { signal: signal() });
    assert.equal(okOffset(result), '5');
    assert.deepEqual(
      (await a.read('bounded-log', { from: 0n, limit: 10 })).map((m) => m.offset),
      ['3', '4', '5'],
    );
    assert.equal((await a.read('other', { from: 0n, limit: 10 })).length, 1);
  });

  it('retention by age deletes expired messages on a later write; offsets survive an emptied destination', async () => {
    let clock = 1_000_000;
    const a = adapter({ retention: { maxAgeMs: 5_000 } }, () => clock);
    await a.connect();
    await a.publish([envelope('aging'), envelope('aging')], { signal: signal() });
    clock += 6_000;
    await a.publish([envelope('fresh')], { signal: signal() });
    assert.deepEqual(await a.read('aging', { from: 0n, limit: 10 }), []);
    assert.equal((await a.read('fresh', { from: 0n, limit: 10 })).length, 1);
    assert.equal(await a.endOffset('aging'), 2n);
    const [result] = await a.publish([envelope('aging')], { signal: signal() });
    assert.equal(okOffset(result), '2');
  });
});
