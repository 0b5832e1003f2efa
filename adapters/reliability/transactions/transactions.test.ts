import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger, type MessageEnvelope } from '../../core/index.js';
import { createTransactions, type Release, type TransactionOptions } from './coordinator.js';
import { createSqliteTransactionStore } from './sqlite-transactions.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-tx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const OPTIONS: TransactionOptions = {
  defaultTimeoutSeconds: 60,
  maxTimeoutSeconds: 3600,
  maxMessages: 5,
  maxChecks: 3,
  defaultDecision: 'rollback',
  checkTimeoutMs: 1_000,
  checkBackoff: { initialDelayMs: 1, maxDelayMs: 1, jitter: 'none' },
  sweepIntervalMs: 50,
  leaseMs: 5_000,
  retentionMs: 60_000,
};

function envelope(id: string, key?: string): MessageEnvelope {
  return {
    id,
    tenant: 'acme',
    topic: 'orders',
    destination: 'orders',
    ...(key === undefined ? {} : { key }),
    payload: Buffer.from(`payload ${id}`),
    contentType: 'text/plain',
    headers: { 'x-a': 'ä' },
    createdAt: 1_000,
  };
}

let files = 0;
/** A coordinator on a fresh SQLite file; `released` collects what each hand-over got. */
async function setup(options: Partial<TransactionOptions> = {}, release?: Release, file?: string) {
  const store = createSqliteTransactionStore({ file: file ?? path.join(dir, `tx-${++files}.db`) });
  await store.open();
  let clock = 10_000;
  const released: MessageEnvelope[][] = [];
  const decided: string[] = [];
  const tx = createTransactions(
    { ...OPTIONS, ...options },
    {
      store,
      logger: silentLogger,
      now: () => clock,
      release:
        release ??
        (async (envelopes) => {
          released.push([...envelopes]);
          return { ok: true };
        }),
      onDecided: (decision, by) => decided.push(`${decision}:${by}`),
    },
  );
  return {
    tx,
    store,
    released,
    decided,
    advance: (ms: number) => (clock += ms),
    close: () => store.close(),
  };
}

describe('transactions (SQLite store)', () => {
  it('commit hands every prepared message over once, in prepare order, bytes intact; commit again is 200', async () => {
    const t = await setup();
    const open = await t.tx.begin('acme', {});
    assert.equal(open.state, 'open');
    assert.equal(open.expiresAt, 10_000 + 60_000);
    assert.equal(
      (await t.tx.prepare('acme', open.id, [envelope('a', 'k'), envelope('b', 'k')])).kind,
      'prepared',
    );
    assert.equal((await t.tx.prepare('acme', open.id, [envelope('c')])).kind, 'prepared');
    assert.equal(t.released.length, 0, 'nothing is released before the commit');
    const done = await t.tx.commit('acme', open.id);
    assert.equal(done.kind, 'done');
    assert.equal(done.kind === 'done' && done.record.state, 'committed');
    assert.deepEqual(
      t.released[0]!.map((e) => e.id),
      ['a', 'b', 'c'],
    );
    const { payload, ...rest } = t.released[0]![0]!;
    const { payload: sent, ...sentRest } = envelope('a', 'k');
    assert.deepEqual(rest, sentRest);
    assert.deepEqual(Buffer.from(payload), Buffer.from(sent), 'the payload bytes, unchanged');
    const again = await t.tx.commit('acme', open.id);
    assert.equal(again.kind, 'done', 'commit is idempotent');
    assert.equal(t.released.length, 1, 'a repeated commit does not hand over again');
    assert.equal((await t.tx.rollback('acme', open.id)).kind, 'conflict', 'rollback after commit: 409');
    assert.equal((await t.tx.prepare('acme', open.id, [envelope('d')])).kind, 'not-open');
    assert.deepEqual(t.decided, ['commit:client']);
    await t.close();
  });

  it('rollback releases nothing, is idempotent, and refuses a later commit', async () => {
    const t = await setup();
    const open = await t.tx.begin('acme', {});
    await t.tx.prepare('acme', open.id, [envelope('a')]);
    assert.equal((await t.tx.rollback('acme', open.id)).kind, 'done');
    assert.equal((await t.tx.rollback('acme', open.id)).kind, 'done');
    assert.equal((await t.tx.commit('acme', open.id)).kind, 'conflict');
    assert.equal(t.released.length, 0);
    const found = await t.tx.findMessage('acme', 'a');
    assert.equal(found?.state, 'rolled-back');
    await t.close();
  });

  it('keeps tenants apart and bounds the messages of one transaction', async () => {
    const t = await setup();
    const open = await t.tx.begin('acme', {});
    assert.equal(await t.tx.get('other', open.id), undefined);
    assert.equal((await t.tx.prepare('other', open.id, [envelope('x')])).kind, 'unknown');
    assert.equal((await t.tx.commit('other', open.id)).kind, 'unknown');
    assert.equal(await t.tx.findMessage('other', 'x'), undefined);
    const ids = ['1', '2', '3', '4', '5', '6'].map((id) => envelope(id));
    assert.equal(
      (await t.tx.prepare('acme', open.id, ids)).kind,
      'full',
      'six messages over a limit of five',
    );
    assert.equal((await t.tx.get('acme', open.id))?.messages, 0, 'all or none');
    await t.close();
  });

  it('a failed hand-over keeps the commit; the sweeper hands the messages over later', async () => {
    let fail = true;
    const released: string[][] = [];
    const t = await setup({}, async (envelopes) => {
      if (fail) return { ok: false, detail: 'outbox full' };
      released.push(envelopes.map((e) => e.id));
      return { ok: true };
    });
    const open = await t.tx.begin('acme', {});
    await t.tx.prepare('acme', open.id, [envelope('a')]);
    const first = await t.tx.commit('acme', open.id);
    assert.equal(first.kind, 'unavailable');
    assert.equal((await t.tx.get('acme', open.id))?.state, 'committing');
    assert.equal((await t.tx.rollback('acme', open.id)).kind, 'conflict', 'no rollback once committing');
    fail = false;
    t.advance(1_001);
    await t.tx.sweep();
    assert.deepEqual(released, [['a']]);
    assert.equal((await t.tx.get('acme', open.id))?.state, 'committed');
    await t.close();
  });

  it('a commit interrupted by a crash is resumed from the store by a new process', async () => {
    const file = path.join(dir, 'crash.db');
    const first = await setup({}, async () => new Promise(() => {}), file); // never returns: "killed"
    const open = await first.tx.begin('acme', {});
    await first.tx.prepare('acme', open.id, [envelope('a'), envelope('b')]);
    void first.tx.commit('acme', open.id);
    await new Promise((r) => setTimeout(r, 20));
    await first.close();
    const second = await setup({}, undefined, file);
    assert.equal((await second.tx.get('acme', open.id))?.state, 'committing');
    await second.tx.sweep();
    assert.equal(second.released.length, 0, 'not before the hand-over lease ran out');
    second.advance(60_001);
    await second.tx.sweep();
    assert.deepEqual(
      second.released[0]!.map((e) => e.id),
      ['a', 'b'],
    );
    assert.equal((await second.tx.get('acme', open.id))?.state, 'committed');
    await second.close();
  });

  it('an expired transaction without a check URL gets the default decision', async () => {
    for (const decision of ['rollback', 'commit'] as const) {
      const t = await setup({ defaultDecision: decision });
      const open = await t.tx.begin('acme', { timeoutSeconds: 5 });
      await t.tx.prepare('acme', open.id, [envelope('a')]);
      await t.tx.sweep();
      assert.equal((await t.tx.get('acme', open.id))?.state, 'open', 'not before its timeout');
      t.advance(5_000);
      await t.tx.sweep();
      const state = (await t.tx.get('acme', open.id))?.state;
      assert.equal(state, decision === 'commit' ? 'committed' : 'rolled-back');
      assert.equal(t.released.length, decision === 'commit' ? 1 : 0);
      assert.deepEqual(t.decided, [`${decision}:timeout`]);
      await t.close();
    }
  });

  describe('check-back', () => {
    let server: Server;
    let answers: Array<{ status: number; body: string }> = [];
    const calls: Array<{ body: string; signature: string | undefined }> = [];
    let url = '';
    it('starts a check-back endpoint', async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          calls.push({ body, signature: req.headers['pubgate-signature'] as string | undefined });
          const answer = answers.shift() ?? { status: 200, body: '{"decision":"unknown"}' };
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/check`;
    });
    after(() => server?.close());

    for (const [answer, state] of [
      ['commit', 'committed'],
      ['rollback', 'rolled-back'],
    ] as const) {
      it(`answer ${answer} → ${state}, decided by the check; the call is signed`, async () => {
        calls.length = 0;
        answers = [{ status: 200, body: JSON.stringify({ decision: answer }) }];
        const t = await setup({ signingSecret: 'a-secret-of-16-chars' });
        const open = await t.tx.begin('acme', { timeoutSeconds: 1, checkUrl: url });
        await t.tx.prepare('acme', open.id, [envelope('a')]);
        t.advance(1_000);
        await t.tx.sweep();
        const record = await t.tx.get('acme', open.id);
        assert.equal(record?.state, state);
        assert.equal(record?.decidedBy, 'check');
        assert.deepEqual(JSON.parse(calls[0]!.body), { transactionId: open.id, tenant: 'acme', messages: 1 });
        const [, t0, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(calls[0]!.signature ?? '') ?? [];
        const { createHmac } = await import('node:crypto');
        assert.equal(
          v1,
          createHmac('sha256', 'a-secret-of-16-chars').update(`${t0}.${calls[0]!.body}`).digest('hex'),
        );
        await t.close();
      });
    }

    it('unknown and failures are asked again up to maxChecks, then the default applies', async () => {
      calls.length = 0;
      answers = [
        { status: 200, body: '{"decision":"unknown"}' },
        { status: 500, body: 'oops' },
        { status: 200, body: 'not json' },
      ];
      const t = await setup({ maxChecks: 3, defaultDecision: 'rollback' });
      const open = await t.tx.begin('acme', { timeoutSeconds: 1, checkUrl: url });
      t.advance(1_000);
      for (let i = 0; i < 3; i++) {
        await t.tx.sweep();
        assert.equal((await t.tx.get('acme', open.id))?.state, 'open', `still open after check ${i + 1}`);
        t.advance(10);
      }
      await t.tx.sweep();
      const record = await t.tx.get('acme', open.id);
      assert.equal(calls.length, 3);
      assert.equal(record?.state, 'rolled-back');
      assert.equal(record?.decidedBy, 'timeout');
      assert.equal(record?.checks, 3);
      await t.close();
    });
  });
});
