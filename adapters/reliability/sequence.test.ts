import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromWireHeaders } from '../core/index.js';
import { createSequencer } from './sequence.js';

describe('sequencer', () => {
  it('counts per (tenant, topic, key), keyless under the empty key', () => {
    const s = createSequencer({ producerId: 'p' });
    assert.deepEqual(s.next('t', 'a', 'k1'), { producer: 'p', seq: 1 });
    assert.deepEqual(s.next('t', 'a', 'k1'), { producer: 'p', seq: 2 });
    assert.deepEqual(s.next('t', 'a', 'k2'), { producer: 'p', seq: 1 });
    assert.deepEqual(s.next('t', 'a', undefined), { producer: 'p', seq: 1 });
    assert.deepEqual(s.next('t', 'a', ''), { producer: 'p', seq: 2 });
    assert.deepEqual(s.next('u', 'a', 'k1'), { producer: 'p', seq: 1 });
    assert.deepEqual(s.next('t', 'b', 'k1'), { producer: 'p', seq: 1 });
  });

  it('keeps parts apart whatever they contain', () => {
    const s = createSequencer({ producerId: 'p' });
    s.next('a|b', 'c', undefined);
    assert.equal(s.next('a', 'b|c', undefined).seq, 1);
  });

  it('gives every process lifetime its own producer id', () => {
    assert.notEqual(createSequencer().producerId, createSequencer().producerId);
  });

  it('bounds memory: past maxKeys the least recently used restarts under a new producer id', () => {
    const s = createSequencer({ producerId: 'p', maxKeys: 2 });
    s.next('t', 'x', 'a');
    s.next('t', 'x', 'a');
    s.next('t', 'x', 'b');
    s.next('t', 'x', 'a'); // a is now the most recently used
    assert.deepEqual(s.next('t', 'x', 'c'), { producer: 'p.1', seq: 1 }); // evicts b
    assert.equal(s.size(), 2);
    assert.deepEqual(s.next('t', 'x', 'a'), { producer: 'p', seq: 4 });
    assert.deepEqual(s.next('t', 'x', 'b'), { producer: 'p.2', seq: 1 }); // evicts c; fresh series
  });

  it('stamps envelopes with headers that readers decode, without touching the input', () => {
    const s = createSequencer({ producerId: 'p' });
    const input = {
      id: 'id1',
      tenant: 't',
      topic: 'x',
      destination: 'x',
      key: 'k',
      payload: new Uint8Array(),
      contentType: 'text/plain',
      headers: { traceparent: 'x' },
      createdAt: 1,
    };
    const stamped = s.stamp(input);
    assert.deepEqual(input.headers, { traceparent: 'x' });
    assert.equal(s.stamp(input).headers['pubgate-seq'], '2');
    const wire = fromWireHeaders({ ...stamped.headers, 'pubgate-id': 'id1' });
    assert.equal(wire.seq, 1);
    assert.equal(wire.producer, 'p');
    assert.deepEqual(wire.headers, { traceparent: 'x' });
  });
});
