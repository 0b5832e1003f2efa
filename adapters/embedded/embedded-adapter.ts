/**
 * The embedded broker: a durable append-only log in one SQLite file, inside the gateway process.
 * It is what `npm start` uses out of the box, with no broker to install.
 *
 * - Confirm = commit: a publish resolves only after the transaction holding its messages has
 *   committed with synchronous=FULL (fsync'd). See log-store.ts for why FULL in WAL mode.
 * - Group commit: publish() calls arriving in the same event-loop turn (up to
 *   `groupCommitMaxMessages`) are written in ONE transaction, so one fsync confirms them all.
 * - Ordering: one writer appends calls in arrival order and numbers each destination's messages
 *   0, 1, 2, ... So order is kept per destination, and therefore per key, by construction.
 * - Duplicates: the broker is a log; publishing the same envelope twice stores it twice, with the
 *   same id. Dropping duplicates is the reliability layer's job (its dedup store).
 * - One process owns the file (exclusive lock); it is not shared across gateway replicas.
 * - Replacement: a live reload that changes the target's settings builds a new adapter while the
 *   old one still serves. Both cannot open the file (the lock), and waiting for the old one to
 *   close would fail or stall the requests in between, so the new adapter (given the old one as
 *   `deps.replaces`) takes over the old one's open log: both write to the same connection until
 *   the old one is closed, and the file is closed when the last of them is. Offsets come from the
 *   log itself, so the two keep numbering each destination without a gap or a repeat.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  AdapterError,
  checkMessageSize,
  createGroupCommitter,
  type AdapterDeps,
  type BrokerAdapter,
  type Capabilities,
  type HealthReport,
  type MessageEnvelope,
  type PublishOptions,
  type PublishResult,
  type ReadableAdapter,
  type ReadOptions,
  type StoredMessage,
} from '../core/index.js';
import { classifyError } from './classify-error.js';
import { DATABASE_FILE_NAME, type EmbeddedConfig } from './config.js';
import { openLogStore, type LogStore } from './log-store.js';

/** Same limit as Kafka topic names, so a route can move between the two unchanged. */
export const MAX_DESTINATION_LENGTH = 249;

/** Most messages one read() returns, whatever `limit` asks for. */
export const MAX_READ_LIMIT = 10_000;

/** Age retention is swept at most this often (and at most once per maxAgeMs). */
const MAX_AGE_SWEEP_INTERVAL_MS = 60_000;

/** One open log file and how many adapters use it (the one that opened it, the ones that took it over). */
interface SharedLog {
  readonly store: LogStore;
  users: number;
}

/** The open log of each connected embedded adapter, for the adapter that replaces it on a reload. */
const openLogs = new WeakMap<BrokerAdapter, SharedLog>();

export interface EmbeddedStats {
  /** Transactions committed (= fsyncs of published messages) since this adapter was created. */
  readonly transactions: number;
  /** Messages committed since this adapter was created. */
  readonly messages: number;
}

export interface EmbeddedAdapter extends ReadableAdapter {
  readonly kind: 'embedded';
  /** Absolute path of the database file. */
  readonly file: string;
  /**
   * The offset the next message of `destination` will get: the number of messages ever appended
   * to it (retention does not lower it). 0 for a destination never written. Kafka calls this the
   * end offset; a reader that has read everything asks for `from = endOffset`.
   */
  endOffset(destination: string): Promise<bigint>;
  /** Commit counters, for metrics and for tests that check group commit. */
  stats(): EmbeddedStats;
}

export function createEmbeddedAdapter(
  target: string,
  config: EmbeddedConfig,
  deps: AdapterDeps,
): EmbeddedAdapter {
  const logger = deps.logger.child({ adapter: 'embedded', target });
  const now = deps.now ?? Date.now;
  // process.cwd() only as the fallback when the composition root gave no base directory.
  const dir = path.resolve(deps.baseDir ?? process.cwd(), config.dir);
  const file = path.join(dir, DATABASE_FILE_NAME);
  const { maxAgeMs, maxMessagesPerTopic } = config.retention;
  const sweepIntervalMs = maxAgeMs === undefined ? undefined : Math.min(maxAgeMs, MAX_AGE_SWEEP_INTERVAL_MS);

  const capabilities: Capabilities = Object.freeze({
    ordering: 'per-key',
    delay: false,
    transactions: false,
    nativeIdempotence: false,
    maxMessageBytes: config.maxMessageBytes,
    maxDestinationLength: MAX_DESTINATION_LENGTH,
    readable: true,
  });

  let store: LogStore | undefined;
  /** The log `store` belongs to, shared with the adapter this one replaced or is replaced by. */
  let log: SharedLog | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  let lastSweepAt = now();
  /** Set after a failed commit so the next successful one logs the recovery. */
  let failing = false;
  let transactions = 0;
  let committedMessages = 0;

  function closedError(): AdapterError {
    return new AdapterError('ADP_ERR_CLOSED', `embedded broker ${target} is closed`);
  }

  function openStore(): LogStore {
    if (closed) throw closedError();
    if (!store)
      throw new AdapterError('ADP_ERR_UNAVAILABLE', `embedded broker ${target} is not connected (${file})`);
    return store;
  }

  /** Commits one group of envelopes in ONE transaction; failures become per-message results. */
  function commitGroup(envelopes: MessageEnvelope[]): PublishResult[] {
    const at = now();
    const sweep =
      sweepIntervalMs !== undefined && maxAgeMs !== undefined && at - lastSweepAt >= sweepIntervalMs;
    let outcome: { offsets: bigint[]; deleted: number } | undefined;
    let failure: AdapterError | undefined;
    try {
      // Not openStore(): close() sets `closed` first, then flushes what was already accepted.
      if (!store)
        throw new AdapterError('ADP_ERR_UNAVAILABLE', `embedded broker ${target} is not open (${file})`);
      outcome = store.append(envelopes, {
        now: at,
        ...(sweep ? { expireBefore: at - maxAgeMs } : {}),
        ...(maxMessagesPerTopic === undefined ? {} : { maxMessagesPerTopic }),
      });
    } catch (error) {
      failure = classifyError(error, `append ${envelopes.length} messages to ${file}`);
    }

    if (outcome) {
      transactions += 1;
      committedMessages += envelopes.length;
      if (sweep) lastSweepAt = at;
      if (outcome.deleted > 0)
        logger.debug({ deleted: outcome.deleted, file }, 'retention deleted old messages');
      if (failing) {
        failing = false;
        logger.info({ file }, 'embedded broker writes recovered');
      }
    } else if (failure) {
      if (!failing) {
        failing = true;
        logger.error(
          { file, code: failure.code, retriable: failure.retriable, err: failure },
          'embedded broker cannot write; publishes fail until it can',
        );
      }
    }

    return envelopes.map((envelope, k): PublishResult => {
      const offset = outcome?.offsets[k];
      return offset === undefined
        ? { ok: false, error: failure ?? new AdapterError('ADP_ERR_INTERNAL', 'missing offset') }
        : {
            ok: true,
            receipt: { messageId: envelope.id, broker: 'embedded', target, offset: offset.toString() },
          };
    });
  }

  function abortedError(signal: AbortSignal): AdapterError {
    const reason: unknown = signal.reason;
    const detail = reason instanceof Error ? reason.message : 'aborted';
    // Only raised while nothing was written (before the call joined a commit): not ambiguous.
    return new AdapterError('ADP_ERR_ABORTED', `publish aborted before it was written: ${detail}`, {
      cause: reason,
      ambiguous: false,
    });
  }

  // Publishes arriving in the same event-loop turn share one transaction (one fsync). A call
  // withdrawn by its signal while still queued was not written, so its abort is not ambiguous.
  const committer = createGroupCommitter<MessageEnvelope, PublishResult>({
    maxItems: config.groupCommitMaxMessages,
    commit: commitGroup,
    abortError: abortedError,
  });

  const adapter: EmbeddedAdapter = {
    kind: 'embedded',
    target,
    file,
    capabilities,

    async connect(signal) {
      if (closed) throw closedError();
      if (store) return;
      if (signal?.aborted) {
        throw new AdapterError('ADP_ERR_ABORTED', `embedded broker ${target}: connect aborted`, {
          cause: signal.reason,
          ambiguous: false,
        });
      }
      // A replacement (live reload) takes over the log the adapter it replaces has open.
      const predecessor = deps.replaces ? openLogs.get(deps.replaces) : undefined;
      if (predecessor && predecessor.store.file === file) {
        predecessor.users += 1;
        log = predecessor;
        store = predecessor.store;
        openLogs.set(adapter, log);
        logger.info({ file }, 'embedded broker taken over from the adapter it replaces (same open file)');
        return;
      }
      try {
        mkdirSync(dir, { recursive: true });
      } catch (error) {
        throw classifyError(error, `embedded broker ${target}: cannot create directory ${dir}`);
      }
      try {
        store = openLogStore(file);
      } catch (error) {
        const classified = classifyError(error, `embedded broker ${target}: cannot open ${file}`);
        if (classified.code === 'ADP_ERR_BACKPRESSURE') {
          // Locked: another process (or adapter) owns this file. Say so plainly.
          throw new AdapterError(
            'ADP_ERR_UNAVAILABLE',
            `embedded broker ${target}: ${file} is locked by another process or adapter; one gateway process owns it`,
            { cause: error },
          );
        }
        throw classified;
      }
      log = { store, users: 1 };
      openLogs.set(adapter, log);
      logger.info(
        { file, destinations: store.destinationCount(), synchronous: 'FULL', journal: 'WAL' },
        'embedded broker opened',
      );
    },

    publish(batch, options: PublishOptions) {
      if (closed) return Promise.reject(closedError());
      if (!store) {
        return Promise.reject(
          new AdapterError('ADP_ERR_UNAVAILABLE', `embedded broker ${target} is not connected (${file})`),
        );
      }
      const { signal } = options;
      if (signal.aborted) return Promise.reject(abortedError(signal));

      const results: (PublishResult | undefined)[] = new Array<PublishResult | undefined>(batch.length);
      const envelopes: MessageEnvelope[] = [];
      const indexes: number[] = [];
      batch.forEach((envelope, index) => {
        const tooLarge = checkMessageSize(envelope, config.maxMessageBytes);
        if (tooLarge) {
          results[index] = { ok: false, error: tooLarge };
        } else if (
          envelope.destination.length === 0 ||
          envelope.destination.length > MAX_DESTINATION_LENGTH
        ) {
          results[index] = {
            ok: false,
            error: new AdapterError(
              'ADP_ERR_INVALID_DESTINATION',
              `destination must be 1 to ${MAX_DESTINATION_LENGTH} characters; got ${envelope.destination.length}`,
            ),
          };
        } else {
          envelopes.push(envelope);
          indexes.push(index);
        }
      });
      if (envelopes.length === 0) return Promise.resolve(results as PublishResult[]);

      return committer.submit(envelopes, signal).then((committed) => {
        committed.forEach((result, k) => {
          results[indexes[k]!] = result;
        });
        return results as PublishResult[];
      });
    },

    async read(destination: string, options: ReadOptions): Promise<StoredMessage[]> {
      const current = openStore();
      const from = options.from < 0n ? 0n : options.from;
      const limit = Math.max(0, Math.min(Math.trunc(options.limit), MAX_READ_LIMIT));
      if (limit === 0) return [];
      try {
        return current.read(destination, from, limit);
      } catch (error) {
        throw classifyError(error, `read ${destination} from ${file}`);
      }
    },

    async endOffset(destination: string): Promise<bigint> {
      const current = openStore();
      try {
        return current.nextOffset(destination);
      } catch (error) {
        throw classifyError(error, `read the end offset of ${destination} from ${file}`);
      }
    },

    stats: () => ({ transactions, messages: committedMessages }),

    async health(): Promise<HealthReport> {
      if (closed) return { ok: false, detail: `closed (${file})` };
      if (!store) return { ok: false, detail: `not connected (${file})` };
      try {
        store.ping();
        return { ok: true, detail: `SQLite ${file}` };
      } catch (error) {
        return { ok: false, detail: classifyError(error, `query ${file}`).message };
      }
    },

    close() {
      closing ??= (async () => {
        closed = true;
        // Publishes already accepted are committed now rather than dropped.
        if (store) committer.flush();
        const owned = log;
        log = undefined;
        store = undefined;
        openLogs.delete(adapter);
        if (!owned) return;
        owned.users -= 1;
        if (owned.users > 0) {
          logger.info(
            { file },
            'embedded broker handed over: the adapter that replaced it keeps the file open',
          );
          return;
        }
        try {
          owned.store.close();
        } catch (error) {
          logger.warn(
            { file, err: classifyError(error, `close ${file}`) },
            'embedded broker did not close cleanly',
          );
        }
        logger.info({ file }, 'embedded broker closed');
      })();
      return closing;
    },
  };
  return adapter;
}
