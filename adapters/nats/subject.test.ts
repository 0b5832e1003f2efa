import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdapterError } from '../core/index.js';
import { isReservedSubject, streamNameFor, streamSubjectsFor, toSubject } from './subject.js';

function refusal(fn: () => unknown): AdapterError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof AdapterError);
    return error;
  }
  assert.fail('accepted');
}

describe('nats subjects', () => {
  it('maps a destination to subjectPrefix + destination', () => {
    assert.equal(toSubject('orders.created', { subjectPrefix: '' }), 'orders.created');
    assert.equal(toSubject('orders.created', { subjectPrefix: 'pubgate.' }), 'pubgate.orders.created');
    assert.equal(toSubject('a-b_c', { subjectPrefix: '' }), 'a-b_c');
  });

  it('refuses destinations NATS cannot publish to', () => {
    for (const bad of ['', 'a..b', '.a', 'a.', 'a.*', 'a.>', 'a b', 'a\tb', 'x'.repeat(256), 'a\u0000b']) {
      const error = refusal(() => toSubject(bad, { subjectPrefix: '' }));
      assert.equal(error.code, 'ADP_ERR_INVALID_DESTINATION', bad);
      assert.equal(error.retriable, false);
    }
  });

  it('refuses reserved subjects, whatever the case', () => {
    for (const reserved of ['$JS.API.STREAM.LIST', '$js.api.x', '$SYS.REQ.SERVER', '_INBOX.abc', '$KV.b.k']) {
      assert.equal(isReservedSubject(reserved), true, reserved);
      assert.equal(
        refusal(() => toSubject(reserved, { subjectPrefix: '' })).code,
        'ADP_ERR_INVALID_DESTINATION',
      );
    }
    assert.equal(isReservedSubject('orders.$JS'), false);
  });

  it('names provisioned streams readably, and never lets two subjects share one', () => {
    assert.equal(streamNameFor('orders.created', 'PUBGATE_'), 'PUBGATE_orders_created');
    const underscore = streamNameFor('orders_created', 'PUBGATE_');
    assert.notEqual(underscore, 'PUBGATE_orders_created');
    assert.match(underscore, /^PUBGATE_orders_created__[0-9a-f]{16}$/);
    const long = streamNameFor(`a.${'b'.repeat(300)}`, 'P_');
    assert.ok(long.length <= 128);
    assert.notEqual(long, streamNameFor(`a.${'b'.repeat(301)}`, 'P_'));
    for (const name of [underscore, long, streamNameFor('é.ü', 'X')]) assert.match(name, /^[A-Za-z0-9_-]+$/);
  });

  it('binds the subject, or its whole tree', () => {
    assert.deepEqual(streamSubjectsFor('a.b', 'exact'), ['a.b']);
    assert.deepEqual(streamSubjectsFor('a.b', 'tree'), ['a.b', 'a.b.>']);
  });
});
