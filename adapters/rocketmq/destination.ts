/**
 * How an envelope's destination, key and id become a RocketMQ topic, tag, message group and keys.
 * Pure functions: the adapter calls them before sending, the contract target to know which topic to
 * create and read.
 */
import { createHash } from 'node:crypto';
import { AdapterError, type MessageEnvelope } from '../core/index.js';
import { MAX_TOPIC_LENGTH, SAFE_TOPIC_NAME, type RocketMqConfig } from './config.js';

/** RocketMQ's own topics (TopicValidator); sending to them is refused or dangerous. */
const SYSTEM_TOPICS = new Set([
  'TBW102',
  'SCHEDULE_TOPIC_XXXX',
  'BenchmarkTest',
  'OFFSET_MOVED_EVENT',
  'SELF_TEST_TOPIC',
  'TRANS_CHECK_MAX_TIME_TOPIC',
  'RMQ_SYS_TRANS_HALF_TOPIC',
  'RMQ_SYS_TRACE_TOPIC',
  'RMQ_SYS_TRANS_OP_HALF_TOPIC',
  'DefaultCluster',
]);
const SYSTEM_TOPIC_PREFIX = 'rmq_sys_';

/** The proxy refuses message groups over 64 bytes (ProxyConfig.maxMessageGroupSize) or with control characters. */
const MAX_MESSAGE_GROUP_BYTES = 64;
const CONTROL_CHARACTER = /\p{Cc}/u;

export type TopicNameMapping = RocketMqConfig['topicNameMapping'];

export function isSystemTopic(name: string): boolean {
  return SYSTEM_TOPICS.has(name) || name.toLowerCase().startsWith(SYSTEM_TOPIC_PREFIX);
}

/**
 * The RocketMQ topic for a logical destination. 'replace' maps every character outside
 * [A-Za-z0-9_-] to '_' (so `demo.orders` and `demo_orders` share a topic); 'strict' refuses them.
 * Throws ADP_ERR_INVALID_DESTINATION for names RocketMQ cannot take.
 */
export function toRocketMqTopic(destination: string, mapping: TopicNameMapping): string {
  if (destination.length === 0) throw invalid(destination, 'the destination is empty');
  const name = mapping === 'replace' ? destination.replace(/[^A-Za-z0-9_-]/gu, '_') : destination;
  if (!SAFE_TOPIC_NAME.test(name)) {
    throw invalid(destination, 'RocketMQ topic names take only [A-Za-z0-9_-] (topicNameMapping is strict)');
  }
  if (name.length > MAX_TOPIC_LENGTH) {
    throw invalid(
      destination,
      `the topic name is ${name.length} characters; RocketMQ takes at most ${MAX_TOPIC_LENGTH}`,
    );
  }
  if (isSystemTopic(name)) throw invalid(destination, `${name} is a RocketMQ system topic`);
  return name;
}

/** Where one message goes: its topic and (optional) tag. */
export interface RocketMqAddress {
  readonly topic: string;
  readonly tag?: string;
}

/**
 * Topic and tag of an envelope under the config: a fixed `topic` makes the destination the tag;
 * a fixed `tag` wins over that.
 */
export function addressFor(
  destination: string,
  config: Pick<RocketMqConfig, 'topic' | 'tag' | 'topicNameMapping'>,
): RocketMqAddress {
  if (config.topic !== undefined) {
    if (config.tag !== undefined) return { topic: config.topic, tag: config.tag };
    validateTag(destination);
    return { topic: config.topic, tag: destination };
  }
  const topic = toRocketMqTopic(destination, config.topicNameMapping);
  return config.tag === undefined ? { topic } : { topic, tag: config.tag };
}

/** A destination used as a tag: the proxy refuses blank tags, `|` (the filter separator) and control characters. */
function validateTag(destination: string): void {
  if (destination.trim().length === 0) throw invalid(destination, 'the destination (used as tag) is blank');
  if (destination.includes('|') || CONTROL_CHARACTER.test(destination)) {
    throw invalid(destination, 'a tag cannot contain "|" or control characters');
  }
  if (destination.length > MAX_TOPIC_LENGTH) {
    throw invalid(destination, `the destination (used as tag) is longer than ${MAX_TOPIC_LENGTH} characters`);
  }
}

/**
 * The FIFO message group of an envelope: its key, or `unkeyedGroup`, or its own id when it has no
 * key. Values the proxy would refuse (over 64 bytes, control characters) are replaced by a SHA-256
 * digest, which keeps "same key, same group" without the limit.
 */
export function messageGroupFor(envelope: MessageEnvelope, unkeyedGroup: string | undefined): string {
  const key = envelope.key;
  if (key === undefined || key.length === 0) return unkeyedGroup ?? safeGroup(envelope.id);
  return safeGroup(key);
}

function safeGroup(value: string): string {
  if (Buffer.byteLength(value, 'utf8') <= MAX_MESSAGE_GROUP_BYTES && !CONTROL_CHARACTER.test(value))
    return value;
  return `pubgate-sha256-${createHash('sha256').update(value, 'utf8').digest('base64url')}`;
}

/**
 * Message keys (RocketMQ's index, searchable in the console and admin tools): the envelope key and
 * the message id. The proxy refuses blank keys and control characters, so those are left out.
 */
export function messageKeysFor(envelope: MessageEnvelope): string[] {
  const keys: string[] = [];
  for (const candidate of [envelope.key, envelope.id]) {
    if (candidate === undefined || candidate.trim().length === 0 || CONTROL_CHARACTER.test(candidate))
      continue;
    if (!keys.includes(candidate)) keys.push(candidate);
  }
  return keys;
}

function invalid(destination: string, reason: string): AdapterError {
  return new AdapterError(
    'ADP_ERR_INVALID_DESTINATION',
    `destination ${JSON.stringify(destination)}: ${reason}`,
  );
}
