/**
 * NATS JetStream adapter: one NATS connection per target, each message published to its subject
 * (subjectPrefix + destination) as a JetStream publish, confirmed by the stream's PubAck.
 *
 * What "confirmed" means here: the stream that binds the subject answered with a PubAck (stream,
 * sequence), i.e. it stored the message in its (file) store, replicated to a majority for streams
 * with replicas. `Nats-Msg-Id` is the envelope id, so a resend of the same message within the
 * stream's duplicate window is stored once: its PubAck says `duplicate: true` and carries the
 * sequence of the first copy, and counts as confirmed for that id.
 *
 * - A subject no stream binds gets "no responders": the adapter asks the JetStream API whether a
 *   stream binds it, and answers ADP_ERR_NO_DESTINATION (or, with `provision.enabled`, creates the
 *   stream and publishes again once). A stream that exists but does not answer yet (restarting) is
 *   ADP_ERR_UNAVAILABLE, retriable.
 * - While there is no connection, publish() fails at once with ADP_ERR_UNAVAILABLE (nothing sent).
 *   When the connection drops with PubAcks outstanding, nats.js rejects those requests at once and
 *   they fail with ADP_ERR_CONNECTION_LOST (ambiguous). See connection.ts for the reconnect loop.
 * - Every message is bounded by publishTimeoutMs (ADP_ERR_TIMEOUT, ambiguous) and by the caller's
 *   AbortSignal (ADP_ERR_ABORTED, ambiguous once sent).
 * - Messages are written to the socket in call order (a JetStream publish is a request written
 *   synchronously), and a stream stores one connection's messages in the order it receives them:
 *   per-subject, and so per-key, order holds.
 */
import type { PubAck } from '@nats-io/jetstream';
import {
  AdapterError,
  abortable,
  checkMessageSize,
  fanOutSignal,
  type AdapterDeps,
  type BrokerAdapter,
  type Capabilities,
  type HealthReport,
  type Logger,
  type MessageEnvelope,
  type PublishOptions,
  type PublishReceipt,
  type PublishResult,
} from '../core/index.js';
import { classifyNatsError } from './classify-error.js';
import { MAX_DESTINATION_LENGTH, type NatsConfig } from './config.js';
import {
  redactServers,
  superviseConnection,
  type ConnectionSupervisor,
  type NatsConnectionInternals,
  type NatsSession,
} from './connection.js';
import { createStreamResolver, type StreamResolver } from './provision.js';
import { toSubject } from './subject.js';
import { toNatsHeaders } from './wire.js';

export const NATS_KIND = 'nats';

export type NatsAdapterState = 'idle' | 'connecting' | 'up' | 'down' | 'closed';

/** Counters for tests, metrics and the admin API. */
export interface NatsAdapterStats {
  readonly state: NatsAdapterState;
  /** Messages confirmed by a PubAck (duplicates included). */
  readonly confirmed: number;
  /** PubAcks with duplicate = true: the stream already had a message with that id. */
  readonly duplicates: number;
  /** Streams created by `provision`. */
  readonly streamsCreated: number;
  /** Connection attempts after the first. */
  readonly reconnectAttempts: number;
}

export interface NatsAdapter extends BrokerAdapter {
  stats(): NatsAdapterStats;
}

/** The receipt of a PubAck: offset = stream sequence, brokerMessageId = "<stream>:<sequence>". */
export function receiptOf(envelope: MessageEnvelope, target: string, ack: PubAck): PublishReceipt {
  return {
    messageId: envelope.id,
    broker: NATS_KIND,
    target,
    offset: String(ack.seq),
    brokerMessageId: `${ack.stream}:${ack.seq}`,
  };
}

interface ConnectWaiter {
  resolve(): void;
  reject(error: AdapterError): void;
}

/** Everything one adapter instance keeps, shared by its small functions below. */
interface AdapterState {
  readonly target: string;
  readonly config: NatsConfig;
  readonly log: Logger;
  readonly streams: StreamResolver;
  supervisor?: ConnectionSupervisor;
  closing: boolean;
  everConnected: boolean;
  confirmed: number;
  duplicates: number;
  readonly waiters: Set<ConnectWaiter>;
  readonly activeCalls: Set<Promise<unknown>>;
}

function unavailable(state: AdapterState): AdapterError {
  if (!state.supervisor) {
    return new AdapterError(
      'ADP_ERR_UNAVAILABLE',
      `nats target ${state.target}: connect() has not been called`,
    );
  }
  const last = state.supervisor.lastError();
  return new AdapterError(
    'ADP_ERR_UNAVAILABLE',
    `nats target ${state.target} is not connected${last ? `: ${last.message}` : ' (connecting)'}`,
    last ? { cause: last } : {},
  );
}

/** The subject and headers of a message, or why it cannot be sent (nothing is sent then). */
function prepare(
  state: AdapterState,
  session: NatsSession,
  envelope: MessageEnvelope,
): { subject: string; headers: ReturnType<typeof toNatsHeaders> } | AdapterError {
  try {
    const limit = Math.min(state.config.maxMessageBytes, session.maxPayload);
    const tooLarge = checkMessageSize(envelope, limit);
    if (tooLarge) return tooLarge;
    return { subject: toSubject(envelope.destination, state.config), headers: toNatsHeaders(envelope) };
  } catch (error) {
    return classifyNatsError(error);
  }
}

/** One JetStream publish: its PubAck, or the classified failure (after it was sent). */
async function send(
  state: AdapterState,
  session: NatsSession,
  envelope: MessageEnvelope,
  prepared: { subject: string; headers: ReturnType<typeof toNatsHeaders> },
  signal: AbortSignal,
): Promise<PubAck | AdapterError> {
  try {
    const published = session.js.publish(prepared.subject, envelope.payload, {
      msgID: envelope.id,
      headers: prepared.headers,
      timeout: state.config.publishTimeoutMs,
    });
    return await abortable(published, signal);
  } catch (error) {
    if (error instanceof AdapterError && error.code === 'ADP_ERR_ABORTED') {
      return new AdapterError('ADP_ERR_ABORTED', `${error.message} (after the message was sent)`, {
        cause: error,
        ambiguous: true,
      });
    }
    return classifyNatsError(error, { inFlight: true });
  }
}

/** Publishes one message; resolves with its outcome, never rejects. */
async function publishOne(
  state: AdapterState,
  session: NatsSession,
  envelope: MessageEnvelope,
  signal: AbortSignal,
): Promise<PublishResult> {
  const prepared = prepare(state, session, envelope);
  if (prepared instanceof AdapterError) return { ok: false, error: prepared };
  let outcome = await send(state, session, envelope, prepared, signal);
  if (outcome instanceof AdapterError && outcome.code === 'ADP_ERR_NO_DESTINATION') {
    outcome = await state.streams.explainNoResponders(session, prepared.subject);
    if (outcome.code === 'ADP_ERR_NO_DESTINATION' && state.config.provision.enabled) {
      try {
        await state.streams.ensureStream(session, prepared.subject);
        outcome = await send(state, session, envelope, prepared, signal);
      } catch (error) {
        outcome = classifyNatsError(error);
      }
    }
  }
  if (outcome instanceof AdapterError) {
    state.log.debug({ id: envelope.id, code: outcome.code, error: outcome.message }, 'nats publish failed');
    return { ok: false, error: outcome };
  }
  state.confirmed++;
  if (outcome.duplicate) {
    state.duplicates++;
    state.log.debug(
      { id: envelope.id, stream: outcome.stream, seq: outcome.seq },
      'nats duplicate (already stored)',
    );
  }
  return { ok: true, receipt: receiptOf(envelope, state.target, outcome) };
}

/** Where the adapter is in its life, for stats(). */
function lifecycleState(state: AdapterState): NatsAdapterState {
  if (state.closing) return 'closed';
  if (!state.supervisor) return 'idle';
  if (state.supervisor.current()) return 'up';
  return state.everConnected ? 'down' : 'connecting';
}

/** The supervisor's events: logging, and waking connect() callers. */
function supervisorEvents(state: AdapterState) {
  const servers = redactServers(state.config);
  return {
    up(session: NatsSession, downMs: number | undefined) {
      if (state.everConnected) {
        state.log.info({ connection: session.id, downMs }, 'nats publishing recovered');
      } else {
        state.log.info(
          { servers, server: session.nc.getServer(), maxPayload: session.maxPayload },
          'nats connected; publishing',
        );
      }
      state.everConnected = true;
      for (const waiter of state.waiters) waiter.resolve();
      state.waiters.clear();
    },
    down(session: NatsSession, error: AdapterError) {
      state.log.warn(
        { connection: session.id, code: error.code, error: error.message },
        'nats connection lost',
      );
    },
    failed(error: AdapterError, attempt: number) {
      state.log.warn({ attempt, code: error.code, error: error.message }, 'nats connection attempt failed');
      // Retrying will not fix it (credentials, JetStream off for the account): connect() fails
      // loudly at start; the loop keeps trying in the background in case an operator fixes it.
      if (error.retriable) return;
      for (const waiter of state.waiters) waiter.reject(error);
      state.waiters.clear();
    },
  };
}

export function createNatsAdapter(
  target: string,
  config: NatsConfig,
  deps: AdapterDeps,
  internals: NatsConnectionInternals = {},
): NatsAdapter {
  const log = deps.logger.child({ adapter: NATS_KIND, target });
  const state: AdapterState = {
    target,
    config,
    log,
    streams: createStreamResolver(config, target, log),
    closing: false,
    everConnected: false,
    confirmed: 0,
    duplicates: 0,
    waiters: new Set(),
    activeCalls: new Set(),
  };
  let closePromise: Promise<void> | undefined;

  const capabilities: Capabilities = Object.freeze({
    // One connection writes in call order and a stream keeps that order per subject.
    ordering: 'per-key',
    // nats-server 2.9 has no scheduled delivery: the reliability layer holds delayed messages.
    delay: false,
    transactions: false,
    // Nats-Msg-Id dedups a resend within the stream's duplicate window.
    nativeIdempotence: true,
    maxMessageBytes: config.maxMessageBytes,
    maxDestinationLength: MAX_DESTINATION_LENGTH,
    readable: false,
  });

  function connect(signal?: AbortSignal): Promise<void> {
    if (state.closing)
      return Promise.reject(new AdapterError('ADP_ERR_CLOSED', `nats target ${target} is closed`));
    state.supervisor ??= superviseConnection(target, config, log, supervisorEvents(state), internals);
    if (state.supervisor.current()) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(unavailable(state));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        state.waiters.delete(waiter);
        reject(unavailable(state));
      };
      const waiter: ConnectWaiter = {
        resolve() {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject(error) {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      state.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async function publish(
    batch: readonly MessageEnvelope[],
    options: PublishOptions,
  ): Promise<PublishResult[]> {
    const { signal } = options;
    if (state.closing) throw new AdapterError('ADP_ERR_CLOSED', `nats target ${target} is closed`);
    if (signal.aborted) {
      const reason: unknown = signal.reason;
      throw new AdapterError(
        'ADP_ERR_ABORTED',
        `publish aborted before sending: ${reason instanceof Error ? reason.message : 'aborted'}`,
        { cause: reason, ambiguous: false },
      );
    }
    const session = state.supervisor?.current();
    if (!session) throw unavailable(state);
    const fanned = fanOutSignal(signal, batch.length);
    // Each publishOne writes its message synchronously before its first await: call order holds.
    const call = Promise.all(batch.map((envelope) => publishOne(state, session, envelope, fanned.signal)));
    state.activeCalls.add(call);
    try {
      return await call;
    } finally {
      state.activeCalls.delete(call);
      fanned.release();
    }
  }

  return {
    kind: NATS_KIND,
    target,
    capabilities,
    connect,
    publish,

    async health(): Promise<HealthReport> {
      if (state.closing) return { ok: false, detail: 'closed' };
      const session = state.supervisor?.current();
      if (!session) {
        const last = state.supervisor?.lastError();
        return {
          ok: false,
          detail: `not connected to ${redactServers(config)}${last ? `: ${last.code} ${last.message}` : ''}`,
        };
      }
      return { ok: true, detail: `connected to ${session.nc.getServer()}, JetStream available` };
    },

    close(): Promise<void> {
      closePromise ??= (async () => {
        state.closing = true;
        log.info({ inFlightCalls: state.activeCalls.size }, 'nats adapter closing');
        const closed = new AdapterError(
          'ADP_ERR_CLOSED',
          `nats target ${target} was closed while connecting`,
        );
        for (const waiter of state.waiters) waiter.reject(closed);
        state.waiters.clear();
        // Every call settles within publishTimeoutMs (sooner if the connection dies).
        await Promise.allSettled([...state.activeCalls]);
        await state.supervisor?.stop();
        log.info({}, 'nats adapter closed');
      })();
      return closePromise;
    },

    stats(): NatsAdapterStats {
      return {
        state: lifecycleState(state),
        confirmed: state.confirmed,
        duplicates: state.duplicates,
        streamsCreated: state.streams.created(),
        reconnectAttempts: state.supervisor?.reconnectAttempts() ?? 0,
      };
    },
  };
}
