/**
 * How an envelope's destination becomes a NATS subject, and how a provisioned stream is named.
 * Pure functions: the adapter calls them before sending, the reader and the contract target to
 * know which subject to read and which stream to create.
 */
import { createHash } from 'node:crypto';
import { AdapterError } from '../core/index.js';
import { MAX_DESTINATION_LENGTH, type NatsConfig } from './config.js';

/**
 * Subject prefixes NATS keeps for itself: the JetStream API and its advisories, the system
 * account, request/reply inboxes. Publishing there is refused, whatever the subject prefix.
 */
export const RESERVED_SUBJECT_PREFIXES = ['$JS.', '$SYS.', '$KV.', '$O.', '$NRG.', '_INBOX.'] as const;

/** Longest stream name a provisioned stream gets (nats-server keeps each stream in a folder of that name). */
const MAX_STREAM_NAME = 128;
/** Characters a stream name may hold without escaping. */
const PLAIN_SUBJECT = /^[A-Za-z0-9.-]+$/;

function invalid(destination: string, reason: string): AdapterError {
  return new AdapterError(
    'ADP_ERR_INVALID_DESTINATION',
    `destination ${JSON.stringify(destination.slice(0, 80))}: ${reason}`,
  );
}

/** True when the subject starts with a prefix NATS reserves (compared ignoring case). */
export function isReservedSubject(subject: string): boolean {
  const upper = subject.toUpperCase();
  return RESERVED_SUBJECT_PREFIXES.some((prefix) => upper.startsWith(prefix.toUpperCase()));
}

/**
 * The subject a destination is published to: `subjectPrefix + destination`. Throws
 * ADP_ERR_INVALID_DESTINATION for a destination NATS cannot take as a literal subject: empty
 * tokens (leading, trailing or double dots), wildcards (`*`, `>`), whitespace or control
 * characters, a reserved prefix, or more than 255 characters.
 */
export function toSubject(destination: string, config: Pick<NatsConfig, 'subjectPrefix'>): string {
  if (destination.length === 0) throw invalid(destination, 'the destination is empty');
  if (destination.length > MAX_DESTINATION_LENGTH) {
    throw invalid(destination, `it is longer than ${MAX_DESTINATION_LENGTH} characters`);
  }
  if (/[\s\p{Cc}]/u.test(destination)) {
    throw invalid(destination, 'a NATS subject cannot contain whitespace or control characters');
  }
  if (/[*>]/.test(destination)) {
    throw invalid(destination, 'a NATS subject to publish to cannot contain the wildcards * or >');
  }
  if (destination.split('.').some((token) => token.length === 0)) {
    throw invalid(destination, 'a NATS subject cannot have empty tokens (leading, trailing or double dots)');
  }
  const subject = `${config.subjectPrefix}${destination}`;
  if (isReservedSubject(subject)) {
    throw invalid(
      destination,
      `subject ${subject} is reserved by NATS (${RESERVED_SUBJECT_PREFIXES.join(' ')})`,
    );
  }
  return subject;
}

/**
 * The name of the stream provisioning creates for a subject: `streamPrefix` + the subject with
 * "." replaced by "_". A subject with other characters than [A-Za-z0-9.-], or one whose name would
 * be too long, is shortened and gets a hash of the whole subject, so two subjects never share a
 * name (`a.b` and `a_b` get different streams).
 */
export function streamNameFor(subject: string, streamPrefix: string): string {
  const plain = PLAIN_SUBJECT.test(subject);
  const readable = subject.replace(/[^A-Za-z0-9-]/g, '_');
  const name = `${streamPrefix}${readable}`;
  if (plain && name.length <= MAX_STREAM_NAME) return name;
  const hash = createHash('sha256').update(subject, 'utf8').digest('hex').slice(0, 16);
  return `${name.slice(0, MAX_STREAM_NAME - hash.length - 2)}__${hash}`;
}

/** The subjects a provisioned stream binds, per the `subjects` option. */
export function streamSubjectsFor(subject: string, mode: NatsConfig['provision']['subjects']): string[] {
  return mode === 'tree' ? [subject, `${subject}.>`] : [subject];
}
