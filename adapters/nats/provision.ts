/**
 * What the adapter does about a subject no stream answered for: find out whether a stream binds
 * it at all (a stream still recovering after a restart also answers "no responders"), and, with
 * `provision.enabled`, create one.
 *
 * A created stream: file storage, limits retention, discard old, `replicas`, `maxAgeMs`,
 * `duplicateWindowMs`, named by streamNameFor and binding streamSubjectsFor (see subject.ts).
 * Several publishes (or several gateway replicas) may create the same stream at once: "name in
 * use" and "subjects overlap" answers are followed by a fresh lookup, and count as success when a
 * stream now binds the subject.
 */
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import { AdapterError, type Logger } from '../core/index.js';
import { classifyNatsError } from './classify-error.js';
import type { NatsConfig } from './config.js';
import type { NatsSession } from './connection.js';
import { streamNameFor, streamSubjectsFor } from './subject.js';

const NANOS_PER_MS = 1_000_000;

/** The stream that binds `subject`, 'none' when the JetStream API says no stream does. */
async function lookUp(session: NatsSession, subject: string): Promise<string | 'none'> {
  try {
    return await session.jsm.streams.find(subject);
  } catch (error) {
    if (error instanceof Error && error.name === 'StreamNotFoundError') return 'none';
    throw error;
  }
}

/** The stream config provisioning creates for a subject. */
export function provisionedStreamConfig(
  subject: string,
  provision: NatsConfig['provision'],
): Partial<StreamConfig> & { name: string } {
  return {
    name: streamNameFor(subject, provision.streamPrefix),
    subjects: streamSubjectsFor(subject, provision.subjects),
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: provision.replicas,
    max_age: provision.maxAgeMs * NANOS_PER_MS,
    duplicate_window: provision.duplicateWindowMs * NANOS_PER_MS,
    description: `created by pubgate for subject ${subject}`,
  };
}

export interface StreamResolver {
  /**
   * Why a publish to `subject` got no responders: ADP_ERR_NO_DESTINATION when no stream binds it,
   * ADP_ERR_UNAVAILABLE when one does (it is not answering yet) or the API itself did not answer.
   */
  explainNoResponders(session: NatsSession, subject: string): Promise<AdapterError>;
  /** Creates the subject's stream unless one binds it by now. One creation per subject at a time. */
  ensureStream(session: NatsSession, subject: string): Promise<void>;
  /** Streams this adapter created. */
  created(): number;
}

export function createStreamResolver(config: NatsConfig, target: string, log: Logger): StreamResolver {
  const inFlight = new Map<string, Promise<void>>();
  let created = 0;

  async function explainNoResponders(session: NatsSession, subject: string): Promise<AdapterError> {
    try {
      const stream = await lookUp(session, subject);
      if (stream === 'none') {
        return new AdapterError(
          'ADP_ERR_NO_DESTINATION',
          `no JetStream stream binds subject ${subject} on nats target ${target}` +
            (config.provision.enabled ? '' : ' (provision is off: create the stream first)'),
        );
      }
      return new AdapterError(
        'ADP_ERR_UNAVAILABLE',
        `stream ${stream} binds subject ${subject} but did not answer (starting or recovering)`,
      );
    } catch (error) {
      return new AdapterError(
        'ADP_ERR_UNAVAILABLE',
        `the JetStream API did not answer whether a stream binds ${subject}: ${classifyNatsError(error).message}`,
        { cause: error },
      );
    }
  }

  async function create(session: NatsSession, subject: string): Promise<void> {
    if ((await lookUp(session, subject)) !== 'none') return;
    const stream = provisionedStreamConfig(subject, config.provision);
    try {
      await session.jsm.streams.add(stream);
      created++;
      log.info({ stream: stream.name, subjects: stream.subjects }, 'nats stream created (provision)');
    } catch (error) {
      // Someone else created it (or a stream that covers the subject) meanwhile: fine.
      if ((await lookUp(session, subject).catch(() => 'none')) !== 'none') return;
      const failure = classifyNatsError(error);
      log.warn(
        { stream: stream.name, code: failure.code, error: failure.message },
        'nats stream creation failed',
      );
      throw new AdapterError(
        failure.code === 'ADP_ERR_INTERNAL' ? 'ADP_ERR_REJECTED' : failure.code,
        `creating stream ${stream.name} for subject ${subject} failed: ${failure.message}`,
        { cause: error, ambiguous: false },
      );
    }
  }

  return {
    explainNoResponders,
    ensureStream(session, subject) {
      let pending = inFlight.get(subject);
      if (!pending) {
        pending = create(session, subject).finally(() => inFlight.delete(subject));
        inFlight.set(subject, pending);
      }
      return pending;
    },
    created: () => created,
  };
}
