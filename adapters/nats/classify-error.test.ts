import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errors } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { AdapterError } from '../core/index.js';
import { classifyNatsError, isNoResponders, JS_ERR } from './classify-error.js';

/** What the JetStream client throws for a publish nobody answered (see jsclient.js). */
function noResponders(subject: string): Error {
  const cause = new errors.RequestError(`no responders: '${subject}'`, {
    cause: new errors.NoRespondersError(subject),
  });
  return Object.assign(new Error('jetstream is not enabled', { cause }), { name: 'JetStreamNotEnabled' });
}

function apiError(code: number, status: number, description: string): Error {
  return new JetStreamApiError({ code: status, err_code: code, description });
}

describe('classifyNatsError', () => {
  // [what, error, options, code, retriable, ambiguous]
  const cases: Array<[string, unknown, { inFlight?: boolean }, string, boolean, boolean]> = [
    ['no stream binds the subject', noResponders('orders'), {}, 'ADP_ERR_NO_DESTINATION', false, false],
    [
      'no responders, in flight: still definite',
      noResponders('orders'),
      { inFlight: true },
      'ADP_ERR_NO_DESTINATION',
      false,
      false,
    ],
    [
      'stream not found',
      apiError(JS_ERR.STREAM_NOT_FOUND, 404, 'stream not found'),
      {},
      'ADP_ERR_NO_DESTINATION',
      false,
      false,
    ],
    [
      'over the stream max_msg_size',
      apiError(JS_ERR.MESSAGE_TOO_LARGE, 400, 'message size exceeds maximum allowed'),
      { inFlight: true },
      'ADP_ERR_TOO_LARGE',
      false,
      false,
    ],
    [
      'over the server max_payload (refused before sending)',
      errors.InvalidArgumentError.format('payload', 'max_payload size exceeded'),
      { inFlight: true },
      'ADP_ERR_TOO_LARGE',
      false,
      false,
    ],
    [
      'server max payload violation',
      new errors.ProtocolError("'Maximum Payload Violation'"),
      {},
      'ADP_ERR_TOO_LARGE',
      false,
      false,
    ],
    [
      'stream full (discard new)',
      apiError(10077, 503, 'maximum messages exceeded'),
      { inFlight: true },
      'ADP_ERR_BACKPRESSURE',
      true,
      false,
    ],
    [
      'JetStream temporarily unavailable',
      apiError(JS_ERR.JETSTREAM_UNAVAILABLE, 503, 'JetStream system temporarily unavailable'),
      {},
      'ADP_ERR_UNAVAILABLE',
      true,
      false,
    ],
    [
      'wrong expected sequence',
      apiError(10071, 400, 'wrong last sequence: 3'),
      {},
      'ADP_ERR_REJECTED',
      false,
      false,
    ],
    [
      'JetStream off for the account',
      apiError(JS_ERR.JETSTREAM_NOT_ENABLED_FOR_ACCOUNT, 503, 'jetstream not enabled for account'),
      {},
      'ADP_ERR_AUTH',
      false,
      false,
    ],
    [
      'PubAck timed out after the send',
      new errors.TimeoutError(),
      { inFlight: true },
      'ADP_ERR_TIMEOUT',
      true,
      true,
    ],
    ['connect timed out', new errors.TimeoutError(), {}, 'ADP_ERR_UNAVAILABLE', true, false],
    [
      'connection closed with the request in flight',
      new errors.RequestError('connection closed'),
      { inFlight: true },
      'ADP_ERR_CONNECTION_LOST',
      true,
      true,
    ],
    [
      'connection closed before sending (even while publishing)',
      new errors.ClosedConnectionError(),
      { inFlight: true },
      'ADP_ERR_UNAVAILABLE',
      true,
      false,
    ],
    ['connection draining', new errors.DrainingConnectionError(), {}, 'ADP_ERR_UNAVAILABLE', true, false],
    [
      'server refused the connection',
      new errors.ConnectionError('connection refused', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      }),
      {},
      'ADP_ERR_UNAVAILABLE',
      true,
      false,
    ],
    [
      'bare socket error',
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      {},
      'ADP_ERR_UNAVAILABLE',
      true,
      false,
    ],
    [
      'wrong credentials',
      new errors.AuthorizationError("'Authorization Violation'"),
      {},
      'ADP_ERR_AUTH',
      false,
      false,
    ],
    [
      'no publish permission',
      new errors.PermissionViolationError('Permissions Violation for Publish to "x"', 'publish', 'x'),
      { inFlight: true },
      'ADP_ERR_AUTH',
      false,
      false,
    ],
    [
      'TLS untrusted',
      Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      {},
      'ADP_ERR_AUTH',
      false,
      false,
    ],
    [
      'invalid subject',
      new errors.InvalidSubjectError('a..b'),
      {},
      'ADP_ERR_INVALID_DESTINATION',
      false,
      false,
    ],
    [
      'something unknown, in flight',
      new Error('weird'),
      { inFlight: true },
      'ADP_ERR_CONNECTION_LOST',
      true,
      true,
    ],
    ['something unknown', new Error('weird'), {}, 'ADP_ERR_INTERNAL', true, true],
    ['a thrown string', 'boom', {}, 'ADP_ERR_INTERNAL', true, true],
  ];

  for (const [what, error, options, code, retriable, ambiguous] of cases) {
    it(`${what} → ${code}`, () => {
      const classified = classifyNatsError(error, options);
      assert.ok(classified instanceof AdapterError);
      assert.equal(classified.code, code);
      assert.equal(classified.retriable, retriable, 'retriable');
      assert.equal(classified.ambiguous, ambiguous, 'ambiguous');
    });
  }

  it('keeps AdapterErrors as they are', () => {
    const original = new AdapterError('ADP_ERR_CLOSED', 'closed');
    assert.equal(classifyNatsError(original), original);
  });

  it('finds "no responders" however it is wrapped', () => {
    assert.equal(isNoResponders(noResponders('x')), true);
    assert.equal(isNoResponders(new errors.NoRespondersError('x')), true);
    assert.equal(isNoResponders(new errors.RequestError('connection closed')), false);
    assert.equal(isNoResponders(new errors.TimeoutError()), false);
  });
});
