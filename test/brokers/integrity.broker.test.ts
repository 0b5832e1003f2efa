/**
 * Bytes in = bytes out on a real broker (RabbitMQ): UTF-8 header values (Message-Key, ce-*,
 * tracestate) reach the AMQP message exactly as sent (amqplib writes strings as UTF-8 long
 * strings), batch values keep the bytes the client wrote, and what is refused (invalid UTF-8, a
 * repeated Authorization) never reaches the queue. Uses the machine's RabbitMQ without stopping
 * it; run broker suites under `flock /tmp/pubgate-brokers.lock`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GetMessage } from 'amqplib';
import { ADDRESSES, ensureBrokers } from '../../deploy/local/brokers.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { withRabbitChannel } from '../support/rabbitmq.js';
import { AUTH, JSON_TYPE, assertProblem, exchange } from '../http/integrity-support.js';

const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const EXCHANGE = `pubgate.integrity.${run}`;
const QUEUE = `pubgate-integrity-${run}`;
const TOPIC = `integrity.rabbit.${run}`;

describe('header and value bytes on RabbitMQ', { concurrency: false }, () => {
  let gw: TestGateway;

  before(async () => {
    await ensureBrokers(['rabbitmq']);
    await withRabbitChannel(async (channel) => {
      await channel.assertExchange(EXCHANGE, 'topic', { durable: true, autoDelete: false });
      await channel.assertQueue(QUEUE, { durable: true, arguments: { 'x-expires': 600_000 } });
      await channel.bindQueue(QUEUE, EXCHANGE, TOPIC);
    });
    gw = await startGateway({
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      brokers: {
        rabbit: { kind: 'rabbitmq', url: ADDRESSES.rabbitmq, exchange: EXCHANGE, exchangeType: 'topic' },
      },
      routes: [{ topic: '**', target: 'rabbit' }],
      tenants: { dev: { keys: ['dev-key'], topics: ['**'] } },
      // Not under test; on a busy shared machine event-loop lag would shed requests (503).
      overload: { enabled: false },
    });
  });

  after(async () => {
    await gw?.stop();
    await withRabbitChannel(async (channel) => {
      await channel.deleteQueue(QUEUE);
      await channel.deleteExchange(EXCHANGE);
    }).catch(() => {});
  });

  /** Everything in the queue now (waits up to 5 s for `count`). */
  async function drain(count: number): Promise<GetMessage[]> {
    return withRabbitChannel(async (channel) => {
      const got: GetMessage[] = [];
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        const message = await channel.get(QUEUE, { noAck: true });
        if (message !== false) got.push(message);
        else if (got.length >= count) break;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return got;
    });
  }

  const headerText = (message: GetMessage, name: string) => {
    const value: unknown = message.properties.headers?.[name];
    // amqplib decodes an AMQP long string to a JS string (UTF-8); a Buffer would mean bytes.
    assert.equal(typeof value, 'string', `${name} is ${typeof value}`);
    return value as string;
  };

  it('a UTF-8 Message-Key, ce-* and tracestate arrive exactly; batch values keep their bytes', async () => {
    const sent = { key: 'ключ-😀', subject: 'ＡＢＣ\u200d', tracestate: 'v=\u202eé' };
    const single = await exchange(gw.url, {
      path: `/v1/topics/${TOPIC}/messages`,
      headers: [
        AUTH,
        JSON_TYPE,
        ['Message-Key', sent.key],
        ['ce-subject', sent.subject],
        ['tracestate', sent.tracestate],
      ],
      body: '{"n": 1.0}',
    });
    assert.equal(single.status, 201, single.body.toString());
    const values = ['12345678901234567890123', '-0', '"жé"'];
    const batchBody = `{"messages":[${values.map((v) => `{"key":"${sent.key}","value": ${v} }`).join(',')}]}`;
    const batch = await exchange(gw.url, {
      path: `/v1/topics/${TOPIC}/messages/batch`,
      headers: [AUTH, JSON_TYPE],
      body: batchBody,
    });
    assert.equal(batch.status, 201, batch.body.toString());

    const received = await drain(4);
    assert.equal(received.length, 4);
    const [first, ...rest] = received;
    assert.equal(headerText(first!, 'pubgate-id'), single.json!.id);
    assert.equal(headerText(first!, 'pubgate-key'), sent.key);
    assert.equal(headerText(first!, 'ce-subject'), sent.subject);
    assert.equal(headerText(first!, 'tracestate'), sent.tracestate);
    assert.deepEqual(first!.content, Buffer.from('{"n": 1.0}'));
    rest.forEach((message, i) => {
      assert.equal(headerText(message, 'pubgate-key'), sent.key);
      assert.deepEqual(message.content, Buffer.from(values[i]!, 'utf8'), `batch message ${i}`);
    });
  });

  it('invalid UTF-8 in a header or the body, and a repeated Authorization, never reach the queue', async () => {
    const path = `/v1/topics/${TOPIC}/messages`;
    assertProblem(
      await exchange(gw.url, {
        path,
        headers: [AUTH, JSON_TYPE, ['Message-Key', Uint8Array.from([0x6b, 0xff])]],
        body: '{}',
      }),
      400,
      'GW_ERR_INVALID_MESSAGE_KEY',
    );
    assertProblem(
      await exchange(gw.url, {
        path,
        headers: [AUTH, JSON_TYPE, ['ce-type', Uint8Array.from([0xed, 0xa0, 0x80])]],
        body: '{}',
      }),
      400,
      'GW_ERR_INVALID_HEADER',
    );
    assertProblem(
      await exchange(gw.url, {
        path,
        headers: [AUTH, JSON_TYPE],
        body: Buffer.from([0x22, 0xc3, 0x22]),
      }),
      400,
      'GW_ERR_INVALID_JSON',
    );
    assertProblem(
      await exchange(gw.url, {
        path,
        headers: [AUTH, ['Authorization', 'Bearer wrong'], JSON_TYPE],
        body: '{}',
      }),
      400,
      'GW_ERR_BAD_REQUEST',
    );
    // A valid publish after them is the only thing in the queue.
    const ok = await exchange(gw.url, { path, headers: [AUTH, JSON_TYPE], body: '{"last":true}' });
    assert.equal(ok.status, 201, ok.body.toString());
    const received = await drain(1);
    assert.deepEqual(
      received.map((m) => m.content.toString('utf8')),
      ['{"last":true}'],
    );
  });
});
