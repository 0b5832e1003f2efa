/**
 * The adapter contract, written once and run against every broker (see targets/). Each case
 * publishes through the adapter and reads back with a real consumer of that broker. Cases that
 * need an ability are gated on adapter.capabilities and skipped with the reason otherwise;
 * nothing here branches on a broker's name.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import {
  AdapterError,
  publishSettled,
  type BrokerAdapter,
  type MessageEnvelope,
  type PublishResult,
} from '../../adapters/core/index.js';
import type { ConsumedMessage, ContractTarget } from './target.js';

const RECEIVE_TIMEOUT_MS = 30_000;

export function envelope(destination: string, overrides: Partial<MessageEnvelope> = {}): MessageEnvelope {
  return {
    id: randomUUID(),
    tenant: 'contract',
    topic: destination,
    destination,
    payload: new TextEncoder().encode(JSON.stringify({ n: Math.random() })),
    contentType: 'application/json',
    headers: {},
    createdAt: Date.now(),
    ...overrides,
  };
}

function signal(ms = 15_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

function expectOk(result: PublishResult | undefined): NonNullable<Extract<PublishResult, { ok: true }>> {
  assert.ok(result, 'missing publish result');
  if (!result.ok) assert.fail(`publish failed: ${result.error.code} ${result.error.message}`);
  return result;
}

function byId(messages: ConsumedMessage[]): Map<string, ConsumedMessage> {
  return new Map(messages.map((m) => [m.id, m]));
}

export function runContractSuite(target: ContractTarget): void {
  describe(`adapter contract: ${target.name}`, { concurrency: false }, () => {
    let adapter: BrokerAdapter;

    before(async () => {
      await target.setup();
      adapter = target.createAdapter();
      await adapter.connect(signal(60_000));
    });

    after(async () => {
      await adapter?.close();
      await target.teardown();
    });

    it('declares its kind, target and capabilities', () => {
      assert.equal(typeof adapter.kind, 'string');
      assert.ok(adapter.kind.length > 0);
      assert.ok(adapter.capabilities.maxMessageBytes > 0);
      assert.ok(adapter.capabilities.maxDestinationLength > 0);
    });

    it('reports healthy once connected', async () => {
      const health = await adapter.health();
      assert.equal(health.ok, true, health.detail);
    });

    it('delivers id, payload bytes, key, headers and content type intact', async () => {
      const destination = await target.freshDestination();
      const consumer = await target.createConsumer(adapter, destination);
      try {
        const binary = new Uint8Array([0, 1, 2, 254, 255, 10, 13, 0x7b]);
        const sent = [
          envelope(destination, {
            key: 'customer-42',
            headers: {
              'ce-type': 'order.created',
              traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
            },
          }),
          envelope(destination, { payload: binary, contentType: 'application/octet-stream', key: 'k-bin' }),
          envelope(destination, {
            payload: new TextEncoder().encode('héllo wörld ✓'),
            contentType: 'text/plain; charset=utf-8',
          }),
        ];
        const results = await adapter.publish(sent, { signal: signal() });
        assert.equal(results.length, sent.length);
        results.forEach((result, i) => {
          const { receipt } = expectOk(result);
          assert.equal(receipt.messageId, sent[i]!.id);
          assert.equal(receipt.broker, adapter.kind);
          assert.equal(receipt.target, adapter.target);
        });
        const received = byId(await consumer.receive(sent.length, RECEIVE_TIMEOUT_MS));
        for (const message of sent) {
          const got = received.get(message.id);
          assert.ok(got, `message ${message.id} not received`);
          assert.deepEqual(Buffer.from(got.payload), Buffer.from(message.payload));
          assert.equal(got.contentType, message.contentType);
          assert.equal(got.key, message.key);
          assert.deepEqual({ ...got.headers }, { ...message.headers });
        }
      } finally {
        await consumer.close();
      }
    });

    it('keeps per-key order across batches and concurrent calls', async (t) => {
      if (adapter.capabilities.ordering !== 'per-key') {
        t.skip('adapter declares no per-key ordering');
        return;
      }
      const destination = await target.freshDestination({ ordered: true });
      const consumer = await target.createConsumer(adapter, destination);
      try {
        const keys = ['a', 'b', 'c'];
        const perKey = 12;
        const sent: MessageEnvelope[] = [];
        // Three sequential rounds; within a round, one batch call per key runs concurrently.
        for (let round = 0; round < 3; round++) {
          const calls = keys.map((key) => {
            const batch = Array.from({ length: perKey / 3 }, (_, i) =>
              envelope(destination, {
                key,
                headers: { seq: String(round * (perKey / 3) + i) },
              }),
            );
            sent.push(...batch);
            return adapter.publish(batch, { signal: signal() });
          });
          for (const results of await Promise.all(calls)) results.forEach((r) => expectOk(r));
        }
        const received = await consumer.receive(sent.length, RECEIVE_TIMEOUT_MS);
        for (const key of keys) {
          const seqs = received.filter((m) => m.key === key).map((m) => Number(m.headers.seq));
          assert.deepEqual(
            seqs,
            [...seqs].sort((x, y) => x - y),
            `key ${key} out of order: ${seqs.join(',')}`,
          );
          assert.equal(seqs.length, perKey);
        }
      } finally {
        await consumer.close();
      }
    });

    it('refuses an oversize message before the broker, and still delivers the rest', async () => {
      const destination = await target.freshDestination();
      const consumer = await target.createConsumer(adapter, destination);
      try {
        const big = envelope(destination, {
          payload: new Uint8Array(adapter.capabilities.maxMessageBytes + 1),
          contentType: 'application/octet-stream',
        });
        const small = envelope(destination);
        const results = await publishSettled(adapter, [big, small], { signal: signal() });
        const first = results[0];
        assert.ok(first && !first.ok, 'oversize message must not be confirmed');
        assert.equal(first.error.code, 'ADP_ERR_TOO_LARGE');
        assert.equal(first.error.retriable, false);
        expectOk(results[1]);
        const received = await consumer.receive(1, RECEIVE_TIMEOUT_MS);
        assert.deepEqual(
          received.map((m) => m.id),
          [small.id],
        );
      } finally {
        await consumer.close();
      }
    });

    it('answers an already aborted publish without hanging', async () => {
      const destination = await target.freshDestination();
      const controller = new AbortController();
      controller.abort(new Error('caller gave up'));
      const results = await publishSettled(adapter, [envelope(destination)], { signal: controller.signal });
      const first = results[0];
      assert.ok(first && !first.ok);
      assert.ok(first.error instanceof AdapterError);
      assert.equal(first.error.code, 'ADP_ERR_ABORTED');
    });

    it('survives a broker restart in the middle and delivers before and after', async (t) => {
      const restartBroker = target.restartBroker?.bind(target);
      if (!restartBroker) {
        t.skip('the broker runs inside the gateway process; its restart durability has its own test');
        return;
      }
      const destination = await target.freshDestination();
      const consumer = await target.createConsumer(adapter, destination);
      try {
        const before = envelope(destination, { key: 'r' });
        expectOk((await adapter.publish([before], { signal: signal() }))[0]);
        await restartBroker();
        // The adapter must recover by itself; while it reconnects, failures must be retriable.
        const afterRestart = envelope(destination, { key: 'r' });
        const deadline = Date.now() + 90_000;
        let last: PublishResult | undefined;
        while (Date.now() < deadline) {
          [last] = await publishSettled(adapter, [afterRestart], { signal: signal(10_000) });
          if (last?.ok) break;
          assert.ok(last && last.error.retriable, `non-retriable failure after restart: ${last?.error.code}`);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        expectOk(last);
        const received = byId(await consumer.receive(2, 60_000));
        assert.ok(received.has(before.id), 'message published before the restart was lost');
        assert.ok(received.has(afterRestart.id), 'message published after the restart was not delivered');
      } finally {
        await consumer.close();
      }
    });

    it('closes idempotently and refuses to publish afterwards', async () => {
      const own = target.createAdapter();
      await own.connect(signal(60_000));
      await Promise.all([own.close(), own.close()]);
      await own.close();
      const results = await publishSettled(own, [envelope(await target.freshDestination())], {
        signal: signal(),
      });
      const first = results[0];
      assert.ok(first && !first.ok);
      assert.equal(first.error.code, 'ADP_ERR_CLOSED');
    });
  });
}
