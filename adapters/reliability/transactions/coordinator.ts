/**
 * Transactional (half) messages, emulated by the reliability layer for every broker: a producer
 * opens a transaction, prepares messages into it (durable, validated, invisible to consumers), then
 * commits (the messages are handed to the outbox together, in prepare order, and the relay
 * delivers them) or rolls back (none is ever delivered). A transaction left undecided past its
 * timeout is resolved by asking the producer's check-back URL, then by the configured default.
 *
 * Crash safety comes from the store's states: a commit writes `committing` before the hand-over
 * and `committed` after, and the sweeper resumes any `committing` transaction whose hand-over
 * lease ran out (a gateway killed mid-commit), and decides any expired `open` one.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { Logger, MessageEnvelope } from '../../core/index.js';
import { backoffDelay, type BackoffOptions } from '../../core/backoff.js';
import type { DecidedBy, PrepareOutcome, TransactionRecord, TransactionStore } from './store.js';

export type Decision = 'commit' | 'rollback';

export interface TransactionOptions {
  readonly defaultTimeoutSeconds: number;
  readonly maxTimeoutSeconds: number;
  /** Most messages one transaction may hold. */
  readonly maxMessages: number;
  /** Check-back calls for one transaction before the default decision applies. */
  readonly maxChecks: number;
  /** What happens to a transaction nobody decides (no check URL, or maxChecks used up). */
  readonly defaultDecision: Decision;
  readonly checkTimeoutMs: number;
  /** Waits between check-back calls that did not decide. */
  readonly checkBackoff: BackoffOptions;
  /** HMAC-SHA256 key of the check-back signature; unsigned when absent. */
  readonly signingSecret?: string;
  readonly sweepIntervalMs: number;
  /** How long a sweeper holds a transaction it works on before another replica may take it. */
  readonly leaseMs: number;
  /** Decided transactions (and their messages) are deleted after this long. */
  readonly retentionMs: number;
}

/** Hands committed messages to the outbox; `ok` once every one of them is durably queued. */
export type Release = (
  envelopes: readonly MessageEnvelope[],
) => Promise<{ readonly ok: true } | { readonly ok: false; readonly detail: string }>;

export interface TransactionDeps {
  readonly store: TransactionStore;
  readonly logger: Logger;
  readonly now: () => number;
  readonly release: Release;
  readonly fetch?: typeof fetch;
  /** Called once per transaction decided (the outcome and who decided). */
  readonly onDecided?: (decision: Decision, by: DecidedBy) => void;
}

export type DecideOutcome =
  | { readonly kind: 'done'; readonly record: TransactionRecord }
  /** Already decided the other way (or being committed, for a rollback): 409. */
  | { readonly kind: 'conflict'; readonly record: TransactionRecord }
  | { readonly kind: 'unknown' }
  /** The messages could not be handed over now; the commit stands and is retried. 503. */
  | { readonly kind: 'unavailable'; readonly detail: string; readonly record: TransactionRecord };

export interface Transactions {
  begin(tenant: string, options: { timeoutSeconds?: number; checkUrl?: string }): Promise<TransactionRecord>;
  get(tenant: string, id: string): Promise<TransactionRecord | undefined>;
  prepare(tenant: string, id: string, envelopes: readonly MessageEnvelope[]): Promise<PrepareOutcome>;
  commit(tenant: string, id: string, by?: DecidedBy): Promise<DecideOutcome>;
  rollback(tenant: string, id: string, by?: DecidedBy): Promise<DecideOutcome>;
  findMessage: TransactionStore['findMessage'];
  /** Runs the sweeper (timeouts, check-backs, interrupted commits, pruning) until stop(). */
  start(): void;
  /** One sweep now; resolves when it is done (tests, and start()). */
  sweep(): Promise<void>;
  stop(): Promise<void>;
}

export function createTransactions(options: TransactionOptions, deps: TransactionDeps): Transactions {
  const { store, now } = deps;
  const logger = deps.logger.child({ component: 'transactions' });
  const owner = `sweeper-${randomUUID()}`;
  const doFetch = deps.fetch ?? fetch;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  let lastPrune = 0;

  /** Hands a committing transaction's messages over, then records it committed. */
  async function handOver(record: TransactionRecord, by: DecidedBy): Promise<DecideOutcome> {
    const released = await deps.release(await store.messages(record.id)).catch((error: Error) => ({
      ok: false as const,
      detail: error.message,
    }));
    if (!released.ok) {
      // The decision stands; the sweeper hands the messages over once the outbox takes them.
      await store.deferCheck(record.id, record.checks, now() + 1_000, now()).catch(() => {});
      logger.warn({ transaction: record.id, detail: released.detail }, 'commit hand-over failed; will retry');
      return { kind: 'unavailable', detail: released.detail, record };
    }
    const done = await store.transition(record.tenant, record.id, ['committing'], 'committed', by, now());
    if (done.kind === 'done') {
      deps.onDecided?.('commit', by);
      logger.info({ transaction: record.id, messages: record.messages, by }, 'transaction committed');
    }
    return done;
  }

  async function commit(tenant: string, id: string, by: DecidedBy = 'client'): Promise<DecideOutcome> {
    const moved = await store.transition(tenant, id, ['open', 'committing'], 'committing', by, now());
    if (moved.kind === 'unknown') return moved;
    if (moved.kind === 'conflict') {
      return moved.record.state === 'committed' ? { kind: 'done', record: moved.record } : moved;
    }
    return handOver(moved.record, by);
  }

  async function rollback(tenant: string, id: string, by: DecidedBy = 'client'): Promise<DecideOutcome> {
    const moved = await store.transition(tenant, id, ['open'], 'rolled-back', by, now());
    if (moved.kind === 'conflict' && moved.record.state === 'rolled-back') {
      return { kind: 'done', record: moved.record };
    }
    if (moved.kind === 'done') {
      deps.onDecided?.('rollback', by);
      logger.info({ transaction: id, messages: moved.record.messages, by }, 'transaction rolled back');
    }
    return moved;
  }

  /** Asks the producer's check-back URL; undefined when it did not decide (unknown, or failed). */
  async function check(record: TransactionRecord): Promise<Decision | undefined> {
    const body = JSON.stringify({
      transactionId: record.id,
      tenant: record.tenant,
      messages: record.messages,
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.signingSecret !== undefined) {
      const t = Math.floor(now() / 1000);
      const v1 = createHmac('sha256', options.signingSecret).update(`${t}.${body}`).digest('hex');
      headers['pubgate-signature'] = `t=${t},v1=${v1}`;
    }
    try {
      const res = await doFetch(record.checkUrl!, {
        method: 'POST',
        headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(options.checkTimeoutMs),
      });
      const answer = (await res.json().catch(() => ({}))) as { decision?: unknown };
      if (res.ok && (answer.decision === 'commit' || answer.decision === 'rollback')) return answer.decision;
      logger.info(
        { transaction: record.id, status: res.status, decision: answer.decision },
        'check-back undecided',
      );
    } catch (error) {
      logger.warn({ transaction: record.id, error: (error as Error).message }, 'check-back failed');
    }
    return undefined;
  }

  /** Decides one expired open transaction: by its check-back while checks remain, else the default. */
  async function resolveExpired(record: TransactionRecord): Promise<void> {
    if (record.checkUrl !== undefined && record.checks < options.maxChecks) {
      const decision = await check(record);
      if (decision === undefined) {
        const checks = record.checks + 1;
        const wait = checks >= options.maxChecks ? 0 : backoffDelay(checks, options.checkBackoff);
        await store.deferCheck(record.id, checks, now() + wait, now());
        return;
      }
      await (decision === 'commit' ? commit : rollback)(record.tenant, record.id, 'check');
      return;
    }
    await (options.defaultDecision === 'commit' ? commit : rollback)(record.tenant, record.id, 'timeout');
  }

  async function sweep(): Promise<void> {
    const due = await store.claimDue(owner, options.leaseMs, 50, now());
    for (const record of due) {
      try {
        if (record.state === 'committing') await handOver(record, record.decidedBy ?? 'client');
        else await resolveExpired(record);
      } catch (error) {
        logger.warn({ transaction: record.id, error: (error as Error).message }, 'transaction sweep failed');
      }
    }
    if (now() - lastPrune > 60_000) {
      lastPrune = now();
      await store.prune(now() - options.retentionMs);
    }
  }

  return {
    async begin(tenant, { timeoutSeconds, checkUrl }) {
      const seconds = timeoutSeconds ?? options.defaultTimeoutSeconds;
      return store.create(
        {
          id: randomUUID(),
          tenant,
          expiresAt: now() + seconds * 1000,
          ...(checkUrl === undefined ? {} : { checkUrl }),
        },
        now(),
      );
    },
    get: (tenant, id) => store.get(tenant, id),
    prepare: (tenant, id, envelopes) => store.prepare(tenant, id, envelopes, options.maxMessages, now()),
    commit,
    rollback,
    findMessage: (tenant, id) => store.findMessage(tenant, id),
    start() {
      if (timer) return;
      const tick = () => {
        sweeping = sweep()
          .catch((error: Error) => logger.warn({ error: error.message }, 'transaction sweep failed'))
          .finally(() => {
            sweeping = undefined;
            if (timer) timer = setTimeout(tick, options.sweepIntervalMs).unref();
          });
      };
      timer = setTimeout(tick, options.sweepIntervalMs).unref();
    },
    sweep,
    async stop() {
      clearTimeout(timer);
      timer = undefined;
      await sweeping;
    },
  };
}
