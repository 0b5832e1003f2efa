/**
 * The one place where kafkajs errors become AdapterErrors. It reads error classes, the `type` of
 * protocol errors, socket error codes and kafkajs's `retriable` flag, never message texts.
 *
 * Ambiguity ("the broker may have the message") needs more than the error: kafkajs retries
 * internally and reports only the last attempt's error, and one produce request carries many
 * partitions but kafkajs throws on the first failed one and drops the rest of the response. So the
 * adapter passes what it knows about the attempt (ClassifyContext) and the rules are:
 *   - connect / health: nothing was written, never ambiguous;
 *   - send, no partition chosen yet: kafkajs failed before it could build a produce request
 *     (metadata, connect), so nothing was written;
 *   - send, kafkajs retried: an earlier attempt may have been written even if the last one
 *     failed to connect, so the failure is ambiguous;
 *   - send, messages spread over several partitions: a partition-level refusal says nothing about
 *     the other partitions of the same request, which may have been written: ambiguous.
 */
import kafkajs from 'kafkajs';
import {
  ADAPTER_ERROR_CODES,
  AdapterError,
  TLS_TRUST_ERROR_CODES,
  type AdapterErrorCode,
} from '../core/index.js';

// kafkajs is CommonJS and spreads its error classes into module.exports, which Node's ESM loader
// cannot see as named exports: take them from the default export.
const {
  KafkaJSError,
  KafkaJSProtocolError,
  KafkaJSConnectionError,
  KafkaJSRequestTimeoutError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSSASLAuthenticationError,
  KafkaJSServerDoesNotSupportApiKey,
  KafkaJSMetadataNotLoaded,
  KafkaJSBrokerNotFound,
  KafkaJSStaleTopicMetadataAssignment,
  KafkaJSTimeout,
} = kafkajs;

export interface ClassifyContext {
  /**
   * What failed: 'connect' (creating the producer session), 'health' (the metadata probe) or 'send'
   * (a producer.sendBatch). Only a send can have written anything.
   */
  readonly phase: 'connect' | 'health' | 'send';
  /**
   * Distinct topic-partitions kafkajs assigned the send's messages to (the adapter's partitioner
   * records them). 0 means kafkajs failed before building a produce request. Unknown: treat as many.
   */
  readonly partitionsTouched?: number;
  /** allowAutoTopicCreation from the config: decides whether an unknown topic may still appear. */
  readonly autoTopicCreation?: boolean;
}

interface Verdict {
  readonly code: AdapterErrorCode;
  readonly what: string;
  readonly retriable?: boolean;
  /** Forced ambiguity (true: the broker wrote it or may have; false: it certainly did not). */
  readonly ambiguous?: boolean;
}

const BACKPRESSURE = (what: string): Verdict => ({ code: 'ADP_ERR_BACKPRESSURE', what });
const REJECTED = (what: string): Verdict => ({ code: 'ADP_ERR_REJECTED', what });
const AUTH = (what: string): Verdict => ({ code: 'ADP_ERR_AUTH', what });

/** Kafka protocol error types (kafkajs `KafkaJSProtocolError.type`) a producer can meet. */
const PROTOCOL_TYPES: Readonly<Record<string, Verdict>> = {
  MESSAGE_TOO_LARGE: { code: 'ADP_ERR_TOO_LARGE', what: 'the broker refused a record batch as too large' },
  RECORD_LIST_TOO_LARGE: {
    code: 'ADP_ERR_TOO_LARGE',
    what: 'the broker refused a record batch as too large',
  },
  INVALID_TOPIC_EXCEPTION: { code: 'ADP_ERR_INVALID_DESTINATION', what: 'the broker refused the topic name' },
  TOPIC_AUTHORIZATION_FAILED: AUTH('not authorized to write to the topic'),
  CLUSTER_AUTHORIZATION_FAILED: AUTH(
    'not authorized on the cluster (IdempotentWrite needs it on old brokers)',
  ),
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: AUTH('not authorized for the transactional id'),
  SASL_AUTHENTICATION_FAILED: AUTH('SASL authentication failed'),
  UNSUPPORTED_SASL_MECHANISM: AUTH('the broker does not offer this SASL mechanism'),
  // Leadership moves, under-replication and broker-side hiccups: the broker is alive and refuses
  // this write for now; kafkajs already refreshed metadata and retried.
  LEADER_NOT_AVAILABLE: BACKPRESSURE('no leader for the partition (election or topic creation in progress)'),
  NOT_LEADER_FOR_PARTITION: BACKPRESSURE('the partition leader moved'),
  FENCED_LEADER_EPOCH: BACKPRESSURE('stale leader epoch'),
  UNKNOWN_LEADER_EPOCH: BACKPRESSURE('unknown leader epoch'),
  REPLICA_NOT_AVAILABLE: BACKPRESSURE('replica not available'),
  BROKER_NOT_AVAILABLE: BACKPRESSURE('broker not available'),
  NOT_ENOUGH_REPLICAS: BACKPRESSURE('fewer in-sync replicas than min.insync.replicas; nothing was written'),
  // The leader appended the batch, then lost in-sync replicas before acknowledging: it may survive.
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: {
    code: 'ADP_ERR_BACKPRESSURE',
    what: 'written to the leader but not to enough replicas',
    ambiguous: true,
  },
  KAFKA_STORAGE_ERROR: BACKPRESSURE('the broker has a storage error'),
  NETWORK_EXCEPTION: BACKPRESSURE('the broker lost its connection to a replica'),
  NOT_CONTROLLER: BACKPRESSURE('not the controller'),
  ELIGIBLE_LEADERS_NOT_AVAILABLE: BACKPRESSURE('no eligible leader'),
  PREFERRED_LEADER_NOT_AVAILABLE: BACKPRESSURE('preferred leader not available'),
  // The broker-side ack timeout: the leader has the batch, the followers did not confirm in time.
  REQUEST_TIMED_OUT: { code: 'ADP_ERR_TIMEOUT', what: 'the broker timed out waiting for in-sync replicas' },
  // Producer-session desynchronisation. The adapter replaces the producer (new producer id) after
  // any failed send, so a retry starts clean; the refused batch itself was not written.
  OUT_OF_ORDER_SEQUENCE_NUMBER: {
    code: 'ADP_ERR_INTERNAL',
    what: 'producer sequence out of sync with the broker; the producer is replaced',
    ambiguous: false,
  },
  UNKNOWN_PRODUCER_ID: {
    code: 'ADP_ERR_INTERNAL',
    what: 'the broker forgot the producer id; the producer is replaced',
    ambiguous: false,
  },
  INVALID_PRODUCER_EPOCH: {
    code: 'ADP_ERR_INTERNAL',
    what: 'stale producer epoch; the producer is replaced',
    ambiguous: false,
  },
  INVALID_PRODUCER_ID_MAPPING: {
    code: 'ADP_ERR_INTERNAL',
    what: 'invalid producer id mapping; the producer is replaced',
    ambiguous: false,
  },
  // Old brokers answer a retried batch they already have with this code: it *was* written.
  DUPLICATE_SEQUENCE_NUMBER: {
    code: 'ADP_ERR_INTERNAL',
    what: 'the broker reports the batch as already written by an earlier attempt',
    ambiguous: true,
  },
  CORRUPT_MESSAGE: REJECTED('the broker found a corrupt record (CRC mismatch)'),
  INVALID_TIMESTAMP: REJECTED("the record timestamp is outside the topic's accepted range"),
  INVALID_RECORD: REJECTED('the broker refused the record (e.g. a compacted topic needs a key)'),
  POLICY_VIOLATION: REJECTED('a broker policy refused the write'),
  UNSUPPORTED_FOR_MESSAGE_FORMAT: REJECTED('the topic message format does not support this record'),
  UNSUPPORTED_COMPRESSION_TYPE: REJECTED('the topic does not accept this compression'),
  INVALID_REQUIRED_ACKS: REJECTED('invalid acks'),
  UNSUPPORTED_VERSION: REJECTED('the broker does not support this request version'),
  INVALID_REQUEST: REJECTED('the broker refused the request as invalid'),
};

/** Socket error codes that mean an established connection died (a request may have been sent). */
const CONNECTION_LOST_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'ERR_STREAM_DESTROYED',
]);

/** Maps anything a kafkajs call rejected with to an AdapterError. AdapterErrors pass through. */
export function classifyKafkaError(error: unknown, context: ClassifyContext): AdapterError {
  if (error instanceof AdapterError) return error;
  const { root, retried } = unwrap(error);
  const verdict = classifyRoot(root, context);
  const ambiguous = decideAmbiguity(verdict, root, retried, context);
  const rootMessage = root instanceof Error ? root.message : String(root);
  const type = root instanceof KafkaJSProtocolError ? ` (${root.type})` : '';
  return new AdapterError(verdict.code, `kafka: ${verdict.what}${type}: ${rootMessage}`, {
    cause: error,
    ...(verdict.retriable === undefined ? {} : { retriable: verdict.retriable }),
    ambiguous,
  });
}

/** True for the codes that mean "Kafka cannot be reached right now" (the adapter then fails fast). */
export function isUnreachable(error: AdapterError): boolean {
  return (
    error.code === 'ADP_ERR_UNAVAILABLE' ||
    error.code === 'ADP_ERR_CONNECTION_LOST' ||
    error.code === 'ADP_ERR_TIMEOUT'
  );
}

/**
 * Peels kafkajs's retry wrappers: KafkaJSNumberOfRetriesExceeded (retries ran out; `cause` is the
 * last attempt's error) and a plain KafkaJSNonRetriableError wrapping a cause. `retried` tells
 * whether more than one attempt was made.
 */
function unwrap(error: unknown): { root: unknown; retried: boolean } {
  let current = error;
  let retried = false;
  for (let depth = 0; depth < 8; depth++) {
    if (current instanceof KafkaJSNumberOfRetriesExceeded) {
      if (current.retryCount > 0) retried = true;
      if (!(current.cause instanceof Error) || current.cause === current) break;
      current = current.cause;
      continue;
    }
    if (
      current instanceof KafkaJSError &&
      current.name === 'KafkaJSNonRetriableError' &&
      current.cause instanceof Error &&
      current.cause !== current
    ) {
      // kafkajs's retrier wraps an error this way when an attempt threw a non-retriable error. With
      // a *retriable* cause that means a nested retrier gave up: e.g. a produce attempt failed, and
      // reconnecting the cluster inside kafkajs's own error handler then ran out of retries. The
      // failed attempt before it may have been written, and the wrapper dropped its retry count.
      if (current.cause instanceof KafkaJSError && current.cause.retriable) retried = true;
      current = current.cause;
      continue;
    }
    break;
  }
  return { root: current, retried };
}

function classifyRoot(root: unknown, context: ClassifyContext): Verdict {
  if (root instanceof KafkaJSProtocolError) {
    if (root.type === 'UNKNOWN_TOPIC_OR_PARTITION') {
      return context.autoTopicCreation === false
        ? {
            code: 'ADP_ERR_NO_DESTINATION',
            what: 'the topic does not exist and allowAutoTopicCreation is false',
          }
        : BACKPRESSURE('the topic does not exist (yet); auto-creation may be disabled on the broker');
    }
    const known = PROTOCOL_TYPES[root.type];
    if (known) return known;
    return root.retriable
      ? BACKPRESSURE('the broker refused the write for now')
      : REJECTED('the broker refused the write');
  }
  if (root instanceof KafkaJSRequestTimeoutError) {
    return { code: 'ADP_ERR_TIMEOUT', what: 'no answer from the broker in requestTimeoutMs' };
  }
  if (root instanceof KafkaJSConnectionError) {
    // KafkaJSConnectionClosedError (a subclass kafkajs does not declare in its types): the broker
    // closed a connection that was up, failing the requests in flight on it.
    if (root.name === 'KafkaJSConnectionClosedError') {
      return { code: 'ADP_ERR_CONNECTION_LOST', what: 'the broker closed the connection' };
    }
    // kafkajs sets `code` (the socket error code) at runtime but does not declare it in its types.
    const socketCode: unknown = (root as { code?: unknown }).code;
    const code = typeof socketCode === 'string' ? socketCode : undefined;
    if (code !== undefined && CONNECTION_LOST_CODES.has(code)) {
      return { code: 'ADP_ERR_CONNECTION_LOST', what: `connection to the broker lost (${code})` };
    }
    if (code !== undefined && TLS_TRUST_ERROR_CODES.has(code)) {
      return AUTH(`TLS verification of the broker failed (${code})`);
    }
    // ECONNREFUSED, EHOSTUNREACH, ENOTFOUND, a connect timeout, "Not connected": nothing was sent on it.
    return { code: 'ADP_ERR_UNAVAILABLE', what: `cannot connect to the broker${code ? ` (${code})` : ''}` };
  }
  if (root instanceof KafkaJSSASLAuthenticationError) return AUTH('SASL authentication failed');
  if (root instanceof KafkaJSServerDoesNotSupportApiKey)
    return REJECTED('the broker is too old for this client');
  if (
    root instanceof KafkaJSMetadataNotLoaded ||
    root instanceof KafkaJSBrokerNotFound ||
    root instanceof KafkaJSStaleTopicMetadataAssignment ||
    (root instanceof KafkaJSError && root.name === 'KafkaJSNoBrokerAvailableError')
  ) {
    return { code: 'ADP_ERR_UNAVAILABLE', what: 'no usable cluster metadata or broker' };
  }
  if (root instanceof KafkaJSTimeout) return { code: 'ADP_ERR_TIMEOUT', what: 'kafkajs timed out' };
  if (root instanceof KafkaJSError) {
    // e.g. "The producer is disconnected" (retriable) or an invariant kafkajs could not name.
    return root.retriable
      ? { code: 'ADP_ERR_UNAVAILABLE', what: 'the producer is not connected' }
      : { code: 'ADP_ERR_INTERNAL', what: 'kafkajs failed' };
  }
  return { code: 'ADP_ERR_INTERNAL', what: 'unexpected failure' };
}

function decideAmbiguity(
  verdict: Verdict,
  root: unknown,
  retried: boolean,
  context: ClassifyContext,
): boolean {
  if (context.phase !== 'send') return false;
  // kafkajs never got to choose a partition: no produce request existed, whatever the error says.
  if (context.partitionsTouched === 0) return false;
  if (verdict.ambiguous !== undefined) return verdict.ambiguous;
  const partitions = context.partitionsTouched ?? Number.POSITIVE_INFINITY;
  if (root instanceof KafkaJSProtocolError && partitions > 1) return true;
  // The last attempt failed, but an earlier one (whose error kafkajs dropped) may have been written.
  if (retried) return true;
  return ADAPTER_ERROR_CODES[verdict.code].ambiguous;
}
