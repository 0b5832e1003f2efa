/**
 * Loss detection, producer side: every accepted message gets a sequence number per
 * (tenant, topic, key), counted by one gateway process, plus that process's producer id. A reader
 * (the `verify` command) groups what it received by (producer, tenant, topic, key) and reports
 * gaps in the numbers.
 *
 * - Keyless messages count under the empty key.
 * - The producer id is a random UUID per process lifetime: after a restart the counters start at 1
 *   again under a new producer id, so a restart never looks like a gap or a rewind.
 * - A gap is not necessarily a loss: a number is taken when the envelope is built, so a message
 *   later refused (4xx, 503: nothing kept) leaves a hole too. Loss is decided by message ids
 *   (what was answered 2xx and never arrived); gaps tell where to look.
 * - Memory is bounded: at most `maxKeys` counters are tracked, least recently used evicted first.
 *   An evicted (tenant, topic, key) starts again at 1 under a new epoch: the producer id becomes
 *   `<process id>.<epoch>` for it, so its numbers stay unique and a reader sees a fresh series
 *   (not duplicates) rather than a rewind. Default maxKeys: 10000. An entry costs its key text
 *   (tenant, topic and key, each up to a few hundred characters from the request) plus about
 *   100 bytes: 10000 entries are 2 MB for typical names and 8 MB at worst (100000 were 22 to 77 MB,
 *   which callers sending a new key per message, or random ones, filled and kept).
 */
import { randomUUID } from 'node:crypto';
import { WIRE_HEADERS, type MessageEnvelope } from '../core/index.js';

export interface SequenceStamp {
  readonly producer: string;
  readonly seq: number;
}

export interface SequencerOptions {
  /** Process-lifetime id; default a random UUID. */
  readonly producerId?: string;
  /** Counters tracked at once; past it the least recently used is evicted. Default: 10000. */
  readonly maxKeys?: number;
}

export interface Sequencer {
  readonly producerId: string;
  /** Takes the next number for (tenant, topic, key). */
  next(tenant: string, topic: string, key: string | undefined): SequenceStamp;
  /**
   * A copy of the envelope with `pubgate-seq` and `pubgate-producer` added to its headers, numbered
   * for its (tenant, topic, key). Called once per message, when the gateway builds it.
   */
  stamp(envelope: MessageEnvelope): MessageEnvelope;
  /** Counters currently tracked (for tests and metrics). */
  size(): number;
}

export const DEFAULT_MAX_SEQUENCE_KEYS = 10_000;

interface Counter {
  epoch: number;
  last: number;
}

export function createSequencer(options: SequencerOptions = {}): Sequencer {
  const producerId = options.producerId ?? randomUUID();
  const maxKeys = options.maxKeys ?? DEFAULT_MAX_SEQUENCE_KEYS;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a positive integer');
  // A Map iterates in insertion order: deleting and re-inserting on use makes it an LRU.
  const counters = new Map<string, Counter>();
  // Epochs of evicted keys are not remembered (that would be unbounded too). The map never shrinks,
  // so once it is full every new key evicts one: numbering each eviction gives every restarted
  // series a producer id of its own.
  let evictions = 0;

  function next(tenant: string, topic: string, key: string | undefined): SequenceStamp {
    // JSON keeps the three parts apart whatever characters they contain.
    const id = JSON.stringify([tenant, topic, key ?? '']);
    let counter = counters.get(id);
    if (counter) {
      counters.delete(id);
    } else {
      counter = { epoch: 0, last: 0 };
      if (counters.size >= maxKeys) {
        const oldest = counters.keys().next().value;
        if (oldest !== undefined) counters.delete(oldest);
        evictions += 1;
        counter.epoch = evictions;
      }
    }
    counters.set(id, counter);
    counter.last += 1;
    return {
      producer: counter.epoch === 0 ? producerId : `${producerId}.${counter.epoch}`,
      seq: counter.last,
    };
  }

  return {
    producerId,
    next,
    stamp(envelope) {
      const { producer, seq } = next(envelope.tenant, envelope.topic, envelope.key);
      return {
        ...envelope,
        headers: { ...envelope.headers, [WIRE_HEADERS.seq]: String(seq), [WIRE_HEADERS.producer]: producer },
      };
    },
    size: () => counters.size,
  };
}
