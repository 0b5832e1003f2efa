import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { AdapterError, fromWireHeaders, type MessageEnvelope } from '../core/index.js';
import { fromNatsHeaders, headerProblem, MSG_ID_HEADER, toNatsHeaders } from './wire.js';

const envelope = (overrides: Partial<MessageEnvelope> = {}): MessageEnvelope => ({
  id: '0190a6c2-7a3e-7c1d-8f00-000000000001',
  tenant: 'acme',
  topic: 'orders',
  destination: 'orders',
  key: 'customer-42',
  payload: new Uint8Array([1, 2, 3]),
  contentType: 'application/json',
  headers: { 'ce-type': 'order.created', traceparent: '00-abc-def-01', note: 'héllo wörld ✓' },
  createdAt: 1_700_000_000_123,
  ...overrides,
});

describe('nats wire headers', () => {
  it("carries the gateway's wire headers and Nats-Msg-Id = the envelope id", () => {
    const sent = envelope();
    const h = toNatsHeaders(sent);
    assert.equal(h.get(MSG_ID_HEADER), sent.id);
    assert.equal(h.get('pubgate-id'), sent.id);
    assert.equal(h.get('pubgate-tenant'), 'acme');
    assert.equal(h.get('pubgate-topic'), 'orders');
    assert.equal(h.get('pubgate-key'), 'customer-42');
    assert.equal(h.get('content-type'), 'application/json');
    assert.equal(h.get('pubgate-created-at'), '1700000000123');
    assert.equal(h.get('ce-type'), 'order.created');
  });

  it('round-trips through the NATS header encoding exactly (names keep their case)', () => {
    const sent = envelope({ headers: { 'x-Mixed.Case': 'v', note: 'héllo wörld ✓', empty: '' } });
    const decoded = natsHeaders();
    // What a consumer gets: the encoded block parsed again.
    const block = toNatsHeaders(sent).toString();
    for (const line of block.split('\r\n').slice(1)) {
      const at = line.indexOf(':');
      if (at > 0) decoded.append(line.slice(0, at), line.slice(at + 1).trim());
    }
    const wire = fromWireHeaders(fromNatsHeaders(decoded));
    assert.equal(wire.id, sent.id);
    assert.equal(wire.key, 'customer-42');
    assert.equal(wire.contentType, 'application/json');
    assert.equal(wire.createdAt, sent.createdAt);
    assert.deepEqual(wire.headers, sent.headers, 'user headers, with NATS and gateway headers removed');
  });

  it('refuses what NATS headers would change or cannot carry, before sending', () => {
    const refused: Record<string, string>[] = [
      { note: ' padded' },
      { note: 'trailing ' },
      { 'nats-expected-stream': 'x' },
      { 'a:b': 'x' },
    ];
    for (const headers of refused) {
      assert.throws(
        () => toNatsHeaders(envelope({ headers })),
        (error: unknown) =>
          error instanceof AdapterError && error.code === 'ADP_ERR_REJECTED' && !error.retriable,
        JSON.stringify(headers),
      );
    }
    // The ordering key travels as a header too.
    assert.throws(() => toNatsHeaders(envelope({ key: 'k ' })), AdapterError);
    assert.equal(headerProblem('ok-name', 'a b'), undefined);
    assert.match(headerProblem('naïve', 'x') ?? '', /printable ASCII/);
  });
});
