/**
 * Success answers: v2 `offsets` entries (REST Proxy and Kafka Bridge forms) and v3 delivery reports,
 * from the delivery outcomes.
 *
 * partition/offset come from the broker's receipt: real on Kafka; on the embedded broker the log
 * offset and partition 0 (a topic is one log); where the broker reports no position (RabbitMQ, a
 * message queued in the outbox, fire-and-forget) they are -1, Kafka's own "unknown".
 */
import { errorOf } from '../../http/publish-pipeline.js';
import type { DeliveryOutcome } from '../../publish/delivery.js';
import { failureOf, type ErrorFlavour, type KafkaRestFailure } from './errors.js';
import type { RecordError } from './records.js';
import type { V3Record } from './v3-request.js';

export const UNKNOWN = -1;

export function positionOf(outcome: DeliveryOutcome): { partition: number; offset: number } {
  if (outcome.kind !== 'confirmed') return { partition: UNKNOWN, offset: UNKNOWN };
  const { partition, offset } = outcome.receipt;
  const parsed = offset !== undefined && /^\d{1,16}$/.test(offset) ? Number(offset) : UNKNOWN;
  return {
    partition: partition ?? 0,
    offset: Number.isSafeInteger(parsed) ? parsed : UNKNOWN,
  };
}

/** The failure of an outcome that was not accepted, or undefined. */
export function outcomeFailure(
  outcome: DeliveryOutcome,
  flavour: ErrorFlavour,
  retryAfterSeconds: number,
): KafkaRestFailure | undefined {
  if (outcome.kind !== 'failed' && outcome.kind !== 'unavailable') return undefined;
  return failureOf(errorOf(outcome, retryAfterSeconds), flavour);
}

/** A REST Proxy v2 `offsets` entry; error_code 1 = non-retriable, 2 = retriable. */
export function confluentOffset(outcome: DeliveryOutcome, retryAfterSeconds: number) {
  const failure = outcomeFailure(outcome, 'confluent', retryAfterSeconds);
  if (failure) {
    return { partition: null, offset: null, error_code: failure.retriable ? 2 : 1, error: failure.message };
  }
  return { ...positionOf(outcome), error_code: null, error: null };
}

/** A Kafka Bridge `offsets` entry: a failed record carries error_code (an HTTP status) and message. */
export function strimziOffset(outcome: DeliveryOutcome, retryAfterSeconds: number) {
  const failure = outcomeFailure(outcome, 'strimzi', retryAfterSeconds);
  if (failure) return { error_code: failure.errorCode, message: failure.message };
  return positionOf(outcome);
}

/** A v3 report for a record that could not be published or was refused. */
export function v3ErrorReport(error: RecordError | KafkaRestFailure) {
  const failure = 'errorCode' in error && 'retriable' in error ? error : failureOf(error, 'confluent');
  return { error_code: failure.errorCode, message: failure.message };
}

/** A v3 delivery report for an accepted record. */
export function v3Report(
  outcome: DeliveryOutcome,
  record: V3Record,
  context: { clusterId: string; topic: string; createdAt: number },
) {
  const { partition, offset } = positionOf(outcome);
  return {
    error_code: 200,
    cluster_id: context.clusterId,
    topic_name: context.topic,
    partition_id: partition,
    offset,
    timestamp: new Date(context.createdAt).toISOString(),
    key: record.keyType === undefined ? null : { type: record.keyType, size: record.keySize },
    value: { type: record.valueType, size: record.payload.length },
  };
}
