import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { AdapterError } from '../core/index.js';
import { classifyKafkaError, isUnreachable, type ClassifyContext } from './classify-error.js';

const {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
  KafkaJSMetadataNotLoaded,
  KafkaJSError,
} = kafkajs;

// Build protocol errors exactly the way kafkajs does when it decodes a response (error code -> error).
const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode: (code: number) => Error;
};
// KafkaJSConnectionClosedError is exported at runtime but missing from kafkajs's type declarations.
const { KafkaJSConnectionClosedError } = kafkajs as unknown as {
  KafkaJSConnectionClosedError: new (message: string, meta: { host: string; port: number }) => Error;
};

/** Calls a kafkajs error constructor the way kafkajs does (its type declarations lag its runtime). */
function construct(Ctor: unknown, ...args: unknown[]): Error {
  return new (Ctor as new (...a: unknown[]) => Error)(...args);
}

/** kafkajs itself passes a message (its type declarations say it takes none). */
function metadataNotLoaded(): Error {
  const Ctor = KafkaJSMetadataNotLoaded as unknown as new (message: string) => Error;
  return new Ctor('Producing to topic without metadata');
}

const SEND_ONE_PARTITION: ClassifyContext = { phase: 'send', partitionsTouched: 1 };

/** What kafkajs's retrier rejects with once its retries ran out. */
function retriesExceeded(cause: Error, retryCount = 3): Error {
  return new KafkaJSNumberOfRetriesExceeded(cause, { retryCount, retryTime: 800 });
}

function expect(
  error: AdapterError,
  code: AdapterError['code'],
  flags: { retriable: boolean; ambiguous: boolean },
): void {
  assert.ok(error instanceof AdapterError);
  assert.equal(error.code, code, error.message);
  assert.equal(error.retriable, flags.retriable, `retriable of ${code}: ${error.message}`);
  assert.equal(error.ambiguous, flags.ambiguous, `ambiguous of ${code}: ${error.message}`);
}

describe('classifyKafkaError', () => {
  it('passes AdapterErrors through unchanged', () => {
    const original = new AdapterError('ADP_ERR_TOO_LARGE', 'big');
    assert.equal(classifyKafkaError(original, SEND_ONE_PARTITION), original);
  });

  it('maps MESSAGE_TOO_LARGE and RECORD_LIST_TOO_LARGE to ADP_ERR_TOO_LARGE', () => {
    expect(classifyKafkaError(createErrorFromCode(10), SEND_ONE_PARTITION), 'ADP_ERR_TOO_LARGE', {
      retriable: false,
      ambiguous: false,
    });
    expect(classifyKafkaError(createErrorFromCode(18), SEND_ONE_PARTITION), 'ADP_ERR_TOO_LARGE', {
      retriable: false,
      ambiguous: false,
    });
  });

  it('maps INVALID_TOPIC_EXCEPTION to ADP_ERR_INVALID_DESTINATION and authorization failures to ADP_ERR_AUTH', () => {
    expect(classifyKafkaError(createErrorFromCode(17), SEND_ONE_PARTITION), 'ADP_ERR_INVALID_DESTINATION', {
      retriable: false,
      ambiguous: false,
    });
    for (const code of [29, 31, 58]) {
      expect(classifyKafkaError(createErrorFromCode(code), SEND_ONE_PARTITION), 'ADP_ERR_AUTH', {
        retriable: false,
        ambiguous: false,
      });
    }
    expect(
      classifyKafkaError(construct(KafkaJSSASLAuthenticationError, 'bad password'), { phase: 'connect' }),
      'ADP_ERR_AUTH',
      {
        retriable: false,
        ambiguous: false,
      },
    );
  });

  it('maps leadership and replica trouble (after kafkajs gave up retrying) to ADP_ERR_BACKPRESSURE', () => {
    for (const code of [5, 6, 19]) {
      const error = retriesExceeded(createErrorFromCode(code), 0);
      expect(classifyKafkaError(error, SEND_ONE_PARTITION), 'ADP_ERR_BACKPRESSURE', {
        retriable: true,
        ambiguous: false,
      });
    }
  });

  it('treats NOT_ENOUGH_REPLICAS_AFTER_APPEND and the broker-side REQUEST_TIMED_OUT as ambiguous', () => {
    expect(classifyKafkaError(createErrorFromCode(20), SEND_ONE_PARTITION), 'ADP_ERR_BACKPRESSURE', {
      retriable: true,
      ambiguous: true,
    });
    expect(classifyKafkaError(createErrorFromCode(7), SEND_ONE_PARTITION), 'ADP_ERR_TIMEOUT', {
      retriable: true,
      ambiguous: true,
    });
  });

  it('decides UNKNOWN_TOPIC_OR_PARTITION by allowAutoTopicCreation', () => {
    const unknownTopic = () => retriesExceeded(createErrorFromCode(3), 0);
    expect(
      classifyKafkaError(unknownTopic(), { phase: 'send', partitionsTouched: 0, autoTopicCreation: false }),
      'ADP_ERR_NO_DESTINATION',
      { retriable: false, ambiguous: false },
    );
    expect(
      classifyKafkaError(unknownTopic(), { phase: 'send', partitionsTouched: 0, autoTopicCreation: true }),
      'ADP_ERR_BACKPRESSURE',
      { retriable: true, ambiguous: false },
    );
  });

  it('maps producer-sequence errors to a retriable internal error, and a duplicate sequence as written', () => {
    expect(classifyKafkaError(createErrorFromCode(45), SEND_ONE_PARTITION), 'ADP_ERR_INTERNAL', {
      retriable: true,
      ambiguous: false,
    });
    expect(classifyKafkaError(createErrorFromCode(59), SEND_ONE_PARTITION), 'ADP_ERR_INTERNAL', {
      retriable: true,
      ambiguous: false,
    });
    expect(classifyKafkaError(createErrorFromCode(46), SEND_ONE_PARTITION), 'ADP_ERR_INTERNAL', {
      retriable: true,
      ambiguous: true,
    });
  });

  it('falls back on the retriable flag for protocol errors it does not list', () => {
    const unknownRetriable = createErrorFromCode(14); // GROUP_LOAD_IN_PROGRESS, retriable
    expect(classifyKafkaError(unknownRetriable, SEND_ONE_PARTITION), 'ADP_ERR_BACKPRESSURE', {
      retriable: true,
      ambiguous: false,
    });
    const unknownFatal = createErrorFromCode(12); // OFFSET_METADATA_TOO_LARGE, not retriable
    expect(classifyKafkaError(unknownFatal, SEND_ONE_PARTITION), 'ADP_ERR_REJECTED', {
      retriable: false,
      ambiguous: false,
    });
  });

  it('makes a partition-level refusal ambiguous when the request spanned several partitions', () => {
    // kafkajs throws on the first failed partition and drops the others' results: they may be written.
    const error = retriesExceeded(createErrorFromCode(6), 0);
    expect(classifyKafkaError(error, { phase: 'send', partitionsTouched: 3 }), 'ADP_ERR_BACKPRESSURE', {
      retriable: true,
      ambiguous: true,
    });
    expect(
      classifyKafkaError(createErrorFromCode(10), { phase: 'send', partitionsTouched: 2 }),
      'ADP_ERR_TOO_LARGE',
      {
        retriable: false,
        ambiguous: true,
      },
    );
  });

  it('maps a refused connection to ADP_ERR_UNAVAILABLE, not ambiguous on the first attempt', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', {
      broker: '127.0.0.1:9092',
      code: 'ECONNREFUSED',
    });
    expect(classifyKafkaError(retriesExceeded(refused, 0), SEND_ONE_PARTITION), 'ADP_ERR_UNAVAILABLE', {
      retriable: true,
      ambiguous: false,
    });
    assert.ok(isUnreachable(classifyKafkaError(refused, SEND_ONE_PARTITION)));
  });

  it('makes a send ambiguous once kafkajs retried: an earlier attempt may have been written', () => {
    const refused = new KafkaJSConnectionError('Connection error', {
      broker: 'b:9092',
      code: 'ECONNREFUSED',
    });
    expect(classifyKafkaError(retriesExceeded(refused, 3), SEND_ONE_PARTITION), 'ADP_ERR_UNAVAILABLE', {
      retriable: true,
      ambiguous: true,
    });
  });

  it('treats a connection error escalated by a nested kafkajs retrier as retried', () => {
    // sendMessages' error handler reconnects the cluster; when that runs out of retries, the outer
    // retrier wraps its cause in a KafkaJSNonRetriableError and the retry count is lost.
    const refused = new KafkaJSConnectionError('Connection error', {
      broker: 'b:9092',
      code: 'ECONNREFUSED',
    });
    const escalated = construct(KafkaJSNonRetriableError, retriesExceeded(refused, 3), { cause: refused });
    expect(classifyKafkaError(escalated, SEND_ONE_PARTITION), 'ADP_ERR_UNAVAILABLE', {
      retriable: true,
      ambiguous: true,
    });
    expect(classifyKafkaError(escalated, { phase: 'send', partitionsTouched: 0 }), 'ADP_ERR_UNAVAILABLE', {
      retriable: true,
      ambiguous: false,
    });
  });

  it('is never ambiguous when kafkajs failed before choosing a partition, nor while connecting', () => {
    const refused = new KafkaJSConnectionError('Connection error', {
      broker: 'b:9092',
      code: 'ECONNREFUSED',
    });
    expect(
      classifyKafkaError(retriesExceeded(refused, 3), { phase: 'send', partitionsTouched: 0 }),
      'ADP_ERR_UNAVAILABLE',
      { retriable: true, ambiguous: false },
    );
    const timeout = construct(KafkaJSRequestTimeoutError, 'Request Metadata(key: 3, version: 6) timed out', {
      broker: 'b:9092',
      correlationId: 1,
      createdAt: 0,
      sentAt: 0,
      pendingDuration: 0,
    });
    expect(classifyKafkaError(timeout, { phase: 'connect' }), 'ADP_ERR_TIMEOUT', {
      retriable: true,
      ambiguous: false,
    });
    expect(classifyKafkaError(timeout, { phase: 'health' }), 'ADP_ERR_TIMEOUT', {
      retriable: true,
      ambiguous: false,
    });
  });

  it('maps a request timeout and a lost connection during a send to ambiguous codes', () => {
    const timeout = construct(KafkaJSRequestTimeoutError, 'Request Produce(key: 0, version: 7) timed out', {
      broker: 'b:9092',
      correlationId: 9,
      createdAt: 0,
      sentAt: 0,
      pendingDuration: 0,
    });
    expect(classifyKafkaError(retriesExceeded(timeout, 0), SEND_ONE_PARTITION), 'ADP_ERR_TIMEOUT', {
      retriable: true,
      ambiguous: true,
    });
    const closed = new KafkaJSConnectionClosedError('Closed connection', { host: 'b', port: 9092 });
    expect(classifyKafkaError(retriesExceeded(closed, 0), SEND_ONE_PARTITION), 'ADP_ERR_CONNECTION_LOST', {
      retriable: true,
      ambiguous: true,
    });
    const reset = new KafkaJSConnectionError('Connection error: read ECONNRESET', {
      broker: 'b:9092',
      code: 'ECONNRESET',
    });
    expect(classifyKafkaError(reset, SEND_ONE_PARTITION), 'ADP_ERR_CONNECTION_LOST', {
      retriable: true,
      ambiguous: true,
    });
  });

  it('maps TLS verification failures to ADP_ERR_AUTH', () => {
    const tls = new KafkaJSConnectionError('Connection error: self-signed certificate', {
      broker: 'b:9093',
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    expect(classifyKafkaError(tls, { phase: 'connect' }), 'ADP_ERR_AUTH', {
      retriable: false,
      ambiguous: false,
    });
  });

  it('unwraps KafkaJSNonRetriableError wrappers to the error that caused them', () => {
    const wrapped = construct(KafkaJSNonRetriableError, createErrorFromCode(29), {
      cause: createErrorFromCode(29),
    });
    expect(classifyKafkaError(wrapped, SEND_ONE_PARTITION), 'ADP_ERR_AUTH', {
      retriable: false,
      ambiguous: false,
    });
  });

  it('maps missing metadata and a disconnected producer to ADP_ERR_UNAVAILABLE', () => {
    expect(
      classifyKafkaError(metadataNotLoaded(), { phase: 'send', partitionsTouched: 0 }),
      'ADP_ERR_UNAVAILABLE',
      {
        retriable: true,
        ambiguous: false,
      },
    );
    expect(
      classifyKafkaError(new KafkaJSError('The producer is disconnected'), {
        phase: 'send',
        partitionsTouched: 0,
      }),
      'ADP_ERR_UNAVAILABLE',
      {
        retriable: true,
        ambiguous: false,
      },
    );
  });

  it('maps anything else to ADP_ERR_INTERNAL, ambiguous during a send', () => {
    expect(classifyKafkaError(new TypeError('boom'), SEND_ONE_PARTITION), 'ADP_ERR_INTERNAL', {
      retriable: true,
      ambiguous: true,
    });
    expect(classifyKafkaError('a string', { phase: 'connect' }), 'ADP_ERR_INTERNAL', {
      retriable: true,
      ambiguous: false,
    });
  });

  it('keeps the original error as the cause and names the protocol type in the message', () => {
    const original = createErrorFromCode(29);
    const classified = classifyKafkaError(original, SEND_ONE_PARTITION);
    assert.equal(classified.cause, original);
    assert.match(classified.message, /TOPIC_AUTHORIZATION_FAILED/);
  });
});
