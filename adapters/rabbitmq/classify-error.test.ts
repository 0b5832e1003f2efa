import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IllegalOperationError } from 'amqplib';
import { AdapterError } from '../core/index.js';
import { classifyAmqpError } from './classify-error.js';

function withCode(message: string, code: number | string): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyAmqpError', () => {
  const cases: Array<[string, unknown, string, boolean]> = [
    // [what, error, expected code, retriable]
    [
      'connection refused',
      withCode('connect ECONNREFUSED 127.0.0.1:5672', 'ECONNREFUSED'),
      'ADP_ERR_UNAVAILABLE',
      true,
    ],
    ['connection reset', withCode('read ECONNRESET', 'ECONNRESET'), 'ADP_ERR_UNAVAILABLE', true],
    ['dns failure', withCode('getaddrinfo ENOTFOUND rabbit', 'ENOTFOUND'), 'ADP_ERR_UNAVAILABLE', true],
    ['amqplib socket timeout', new Error('connect ETIMEDOUT'), 'ADP_ERR_UNAVAILABLE', true],
    ['heartbeat timeout', new Error('Heartbeat timeout'), 'ADP_ERR_UNAVAILABLE', true],
    ['socket ended', new Error('Unexpected close'), 'ADP_ERR_UNAVAILABLE', true],
    // Exactly what amqplib 2.3 raises for a wrong password (no code property).
    [
      'wrong password',
      new Error(
        'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."',
      ),
      'ADP_ERR_AUTH',
      false,
    ],
    [
      'unknown vhost',
      new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'),
      'ADP_ERR_AUTH',
      false,
    ],
    [
      'tls untrusted',
      withCode('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'),
      'ADP_ERR_AUTH',
      false,
    ],
    [
      'channel closed (client side)',
      new IllegalOperationError('Channel closed'),
      'ADP_ERR_UNAVAILABLE',
      true,
    ],
    [
      'connection forced (broker stopping)',
      withCode('Connection closed: 320 (CONNECTION-FORCED)', 320),
      'ADP_ERR_UNAVAILABLE',
      true,
    ],
    [
      'access refused on a resource',
      withCode('Channel closed by server: 403 (ACCESS-REFUSED)', 403),
      'ADP_ERR_AUTH',
      false,
    ],
    ['vhost not allowed', withCode('Connection closed: 530 (NOT-ALLOWED)', 530), 'ADP_ERR_AUTH', false],
    [
      'exchange missing',
      withCode('Channel closed by server: 404 (NOT-FOUND) no exchange', 404),
      'ADP_ERR_NO_DESTINATION',
      false,
    ],
    [
      'exchange type mismatch',
      withCode(
        'Operation failed: ExchangeDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg \'type\'"',
        406,
      ),
      'ADP_ERR_REJECTED',
      false,
    ],
    [
      'over max_message_size',
      withCode(
        'Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - message size 200 is larger than configured max size 100"',
        406,
      ),
      'ADP_ERR_TOO_LARGE',
      false,
    ],
    ['content too large', withCode('311', 311), 'ADP_ERR_TOO_LARGE', false],
    ['no route', withCode('312', 312), 'ADP_ERR_UNROUTABLE', false],
    [
      'resource error',
      withCode('Connection closed: 506 (RESOURCE-ERROR)', 506),
      'ADP_ERR_BACKPRESSURE',
      true,
    ],
    ['internal error', withCode('Connection closed: 541 (INTERNAL-ERROR)', 541), 'ADP_ERR_INTERNAL', true],
    [
      'headers table too large',
      new RangeError('headers table exceeds 65536 bytes'),
      'ADP_ERR_TOO_LARGE',
      false,
    ],
    ['something unknown', new Error('surprise'), 'ADP_ERR_INTERNAL', true],
    ['a non-Error', 'a string', 'ADP_ERR_INTERNAL', true],
  ];
  for (const [what, error, code, retriable] of cases) {
    it(`${what} -> ${code}`, () => {
      const classified = classifyAmqpError(error);
      assert.ok(classified instanceof AdapterError);
      assert.equal(classified.code, code);
      assert.equal(classified.retriable, retriable);
      assert.equal(classified.ambiguous, code === 'ADP_ERR_INTERNAL');
      if (error instanceof Error) assert.equal(classified.cause, error);
    });
  }

  it('keeps an AdapterError as it is', () => {
    const original = new AdapterError('ADP_ERR_TIMEOUT', 'x');
    assert.equal(classifyAmqpError(original), original);
  });

  it('turns a transient close into ADP_ERR_CONNECTION_LOST (ambiguous) for in-flight messages', () => {
    for (const error of [
      new Error('channel closed'),
      withCode('Connection closed: 320', 320),
      new Error('Heartbeat timeout'),
    ]) {
      const classified = classifyAmqpError(error, { inFlight: true });
      assert.equal(classified.code, 'ADP_ERR_CONNECTION_LOST');
      assert.equal(classified.ambiguous, true);
      assert.equal(classified.retriable, true);
    }
  });

  it('keeps a definite verdict for in-flight messages but marks it ambiguous', () => {
    const classified = classifyAmqpError(withCode('Channel closed by server: 404 (NOT-FOUND)', 404), {
      inFlight: true,
    });
    assert.equal(classified.code, 'ADP_ERR_NO_DESTINATION');
    assert.equal(classified.ambiguous, true);
  });
});
