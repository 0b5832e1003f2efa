/**
 * RabbitMQ adapter: one AMQP connection, one confirm channel, persistent messages to one durable
 * exchange, routing key = envelope.destination.
 *
 * What "confirmed" means here: the broker sent basic.ack for the message on a confirm channel, and
 * did NOT send basic.return for it first. With `mandatory` on (the default) that means every queue
 * the exchange routed it to has taken it, and for durable queues persisted it (RabbitMQ acks a
 * persistent message only after it is written to disk, or replicated for quorum queues). An exchange
 * with no matching binding returns the message: it fails with ADP_ERR_UNROUTABLE, never ok.
 *
 * Connection handling, in short:
 * - A supervisor loop owns the connection and the channel: connect, declare the exchange, publish
 *   until the channel or connection closes, then reconnect in the background with full-jitter backoff.
 *   amqplib 2.x has a `recovery` option, but it reconnects only the connection: the channel, the
 *   exchange declaration and our confirm bookkeeping still need this loop, and a channel closed by a
 *   channel error (the connection stays up) is not covered by it at all. One loop that owns both is
 *   easier to reason about and to log.
 * - While there is no open channel, publish() fails at once with ADP_ERR_UNAVAILABLE (retriable,
 *   nothing written) instead of hanging until the caller's deadline.
 * - Confirms are tracked by delivery tag from the channel's 'ack'/'nack' events; messages pipeline
 *   (up to maxInFlight unconfirmed), nobody waits for confirms one message at a time.
 * - Every message is bounded by confirmTimeoutMs (ADP_ERR_TIMEOUT, ambiguous once written), by the
 *   caller's AbortSignal (ADP_ERR_ABORTED), and by the channel's life: when the channel or connection
 *   closes, each unconfirmed message is settled right away with ADP_ERR_CONNECTION_LOST (ambiguous),
 *   because amqplib's own confirm callbacks cannot be relied on to fire when the socket dies.
 */
import { connect as amqplibConnect, type Message, type Options } from 'amqplib';
import {
  AdapterError,
  backoffDelay,
  checkMessageSize,
  fanOutSignal,
  toWireHeaders,
  type AdapterDeps,
  type BrokerAdapter,
  type Capabilities,
  type HealthReport,
  type Logger,
  type MessageEnvelope,
  type PublishOptions,
  type PublishResult,
} from '../core/index.js';
import { classifyAmqpError } from './classify-error.js';
import { AMQP_SHORTSTR_MAX_BYTES, type RabbitMqConfig } from './config.js';

export const RABBITMQ_KIND = 'rabbitmq';
/** AMQP `app-id` property on every message. */
export const APP_ID = 'pubgate';

/** An event listener as amqplib and EventEmitter type it (each event has its own arguments). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

/** The slice of amqplib's ChannelModel the adapter uses (unit tests pass a fake). */
export interface AmqpConnection {
  createConfirmChannel(): Promise<AmqpChannel>;
  close(): Promise<void>;
  on(event: string, listener: Listener): unknown;
}

/** The slice of amqplib's ConfirmChannel the adapter uses. */
export interface AmqpChannel {
  assertExchange(exchange: string, type: string, options?: Options.AssertExchange): Promise<unknown>;
  checkExchange(exchange: string): Promise<unknown>;
  publish(exchange: string, routingKey: string, content: Buffer, options?: Options.Publish): boolean;
  close(): Promise<void>;
  on(event: string, listener: Listener): unknown;
}

export interface AmqpSocketOptions {
  readonly timeout: number;
  readonly clientProperties: Record<string, string>;
}

/** Seams for unit tests only; production passes nothing. */
export interface RabbitMqInternals {
  readonly connect?: (url: string, socketOptions: AmqpSocketOptions) => Promise<AmqpConnection>;
  /** Random source in [0, 1) for the backoff jitter. Default: Math.random. */
  readonly random?: () => number;
}

/** The URL with the password removed, for logs and health details. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = '***';
    url.search = '';
    return url.toString();
  } catch {
    return '<invalid url>';
  }
}

type PendingState = 'queued' | 'written' | 'settled';

/** One message between publish() and its outcome. */
interface Pending {
  readonly envelope: MessageEnvelope;
  readonly content: Buffer;
  readonly properties: Options.Publish;
  state: PendingState;
  /** Set when the broker returned the message (basic.return) before confirming it. */
  returned?: { readonly replyCode: number; readonly replyText: string };
  settle(result: PublishResult): void;
}

/** One confirm channel's life. Delivery tags count from 1 per channel, so they live here. */
interface ChannelSession {
  readonly id: number;
  readonly channel: AmqpChannel;
  /** The delivery tag the broker will give the next message published on this channel. */
  nextTag: number;
  /** Written, not yet acked/nacked, by delivery tag (insertion order = tag order). */
  readonly unconfirmed: Map<number, Pending>;
  /** The same messages by message id, to correlate basic.return (which carries no delivery tag). */
  readonly byMessageId: Map<string, Pending[]>;
  /** channel.publish() returned false: the socket buffer is full, wait for 'drain'. */
  needsDrain: boolean;
  open: boolean;
  /** amqplib emitted 'close' for this channel. */
  ended: boolean;
  /** The error the channel was closed with, if the server closed it ('error' comes before 'close'). */
  closeError?: Error;
  readonly closed: Promise<void>;
}

interface ConnectWaiter {
  resolve(): void;
  reject(error: AdapterError): void;
}

export function createRabbitMqAdapter(
  target: string,
  config: RabbitMqConfig,
  deps: AdapterDeps,
  internals: RabbitMqInternals = {},
): BrokerAdapter {
  const log: Logger = deps.logger.child({ adapter: RABBITMQ_KIND, target });
  const now = deps.now ?? Date.now;
  const random = internals.random ?? Math.random;
  const openConnection =
    internals.connect ??
    ((url: string, socketOptions: AmqpSocketOptions) =>
      amqplibConnect(url, socketOptions) as Promise<AmqpConnection>);

  const safeUrl = redactUrl(config.url);
  const connectUrl = (() => {
    const url = new URL(config.url);
    url.searchParams.set('heartbeat', String(config.heartbeatSeconds));
    return url.toString();
  })();
  const socketOptions: AmqpSocketOptions = {
    timeout: config.connectTimeoutMs,
    clientProperties: { connection_name: config.connectionName ?? `pubgate:${target}` },
  };

  const capabilities: Capabilities = Object.freeze({
    // One channel publishes everything in call order (our write queue is FIFO, publish() writes a
    // batch in order), and RabbitMQ keeps the order of messages from one channel into one queue. So a
    // consumer of a single queue sees each key's messages in publish order. (Competing consumers on
    // that queue, or a retry after a failure, can still reorder; the same holds for every broker.)
    ordering: 'per-key',
    delay: false,
    transactions: false,
    nativeIdempotence: false,
    maxMessageBytes: config.maxMessageBytes,
    // A routing key is an AMQP short string: at most 255 bytes (checked in bytes at publish).
    maxDestinationLength: AMQP_SHORTSTR_MAX_BYTES,
    readable: false,
  });

  // --- state -------------------------------------------------------------------------------------
  let started = false;
  let closing = false;
  let closePromise: Promise<void> | undefined;
  let supervisor: Promise<void> | undefined;
  /** The open connection, if any. */
  let connection: AmqpConnection | undefined;
  /** The open confirm channel; publish() needs one. */
  let session: ChannelSession | undefined;
  let sessionCounter = 0;
  /** Set while RabbitMQ blocks this connection (memory or disk alarm): the reason it gave. */
  let blockedReason: string | undefined;
  /** Why there is no open channel right now, for publish errors and health. */
  let lastError: AdapterError | undefined;
  /** When the channel was lost, for the "recovered after N ms" log line. */
  let downSince: number | undefined;
  const waiters = new Set<ConnectWaiter>();
  /** Messages waiting to be written, FIFO (keeps per-key order). Settled ones are skipped lazily. */
  let queue: Pending[] = [];
  /** publish() calls that have not resolved yet; close() waits for them. */
  const activeCalls = new Set<Promise<unknown>>();
  /** Wakes the supervisor from a backoff sleep when close() starts. */
  const stop = new AbortController();

  // --- publishing --------------------------------------------------------------------------------

  function fail(error: AdapterError): PublishResult {
    return { ok: false, error };
  }

  function unavailableError(): AdapterError {
    if (!started)
      return new AdapterError(
        'ADP_ERR_UNAVAILABLE',
        `rabbitmq target ${target}: connect() has not been called`,
      );
    const why = lastError ? `: ${lastError.message}` : ' (connecting)';
    return new AdapterError('ADP_ERR_UNAVAILABLE', `rabbitmq target ${target} is not connected${why}`, {
      ...(lastError ? { cause: lastError } : {}),
    });
  }

  function backpressureError(): AdapterError {
    return new AdapterError(
      'ADP_ERR_BACKPRESSURE',
      `rabbitmq target ${target} is blocked by the broker (${blockedReason ?? 'resource alarm'}); it accepts no publishes until the alarm clears`,
    );
  }

  function validate(envelope: MessageEnvelope): AdapterError | undefined {
    const tooLarge = checkMessageSize(envelope, config.maxMessageBytes);
    if (tooLarge) return tooLarge;
    const keyBytes = Buffer.byteLength(envelope.destination, 'utf8');
    if (keyBytes === 0 || keyBytes > AMQP_SHORTSTR_MAX_BYTES) {
      return new AdapterError(
        'ADP_ERR_INVALID_DESTINATION',
        `routing key "${envelope.destination.slice(0, 64)}" is ${keyBytes} bytes; RabbitMQ accepts 1 to ${AMQP_SHORTSTR_MAX_BYTES}`,
      );
    }
    for (const [name, value] of [
      ['message id', envelope.id],
      ['content type', envelope.contentType],
    ] as const) {
      if (Buffer.byteLength(value, 'utf8') > AMQP_SHORTSTR_MAX_BYTES) {
        return new AdapterError(
          'ADP_ERR_REJECTED',
          `the ${name} is longer than the ${AMQP_SHORTSTR_MAX_BYTES} bytes an AMQP property can carry`,
        );
      }
    }
    return undefined;
  }

  function properties(envelope: MessageEnvelope): Options.Publish {
    return {
      persistent: true, // delivery-mode 2: written to disk by durable queues before the confirm
      mandatory: config.mandatory,
      messageId: envelope.id,
      contentType: envelope.contentType,
      // AMQP timestamps are whole seconds; the exact epoch ms travels in pubgate-created-at.
      timestamp: Math.floor(envelope.createdAt / 1000),
      appId: APP_ID,
      // The ordering key travels only as the pubgate-key header: correlationId means request/reply
      // correlation to AMQP consumers and frameworks, so we leave it to them.
      headers: toWireHeaders(envelope),
    };
    // envelope.deliverAt is not sent: capabilities.delay is false, so the reliability layer holds
    // delayed messages back itself and hands them over when they are due.
  }

  function enqueue(envelope: MessageEnvelope, signal: AbortSignal): Promise<PublishResult> {
    const invalid = validate(envelope);
    if (invalid) return Promise.resolve(fail(invalid));

    return new Promise<PublishResult>((resolve) => {
      const pending: Pending = {
        envelope,
        content: Buffer.from(
          envelope.payload.buffer,
          envelope.payload.byteOffset,
          envelope.payload.byteLength,
        ),
        properties: properties(envelope),
        state: 'queued',
        settle(result) {
          if (pending.state === 'settled') return;
          pending.state = 'settled';
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(result);
        },
      };
      // Bounds the whole wait, queued or written. A written message stays in the channel's
      // bookkeeping after a timeout (it still occupies an in-flight slot until its confirm arrives).
      const timer = setTimeout(() => {
        const written = pending.state === 'written';
        pending.settle(
          fail(
            new AdapterError(
              'ADP_ERR_TIMEOUT',
              written
                ? `no publisher confirm from rabbitmq target ${target} within ${config.confirmTimeoutMs} ms; the broker may have the message`
                : `message not written to rabbitmq target ${target} within ${config.confirmTimeoutMs} ms (flow control)`,
              { ambiguous: written },
            ),
          ),
        );
      }, config.confirmTimeoutMs);
      timer.unref();
      const onAbort = () => {
        const written = pending.state === 'written';
        const reason: unknown = signal.reason;
        const detail = reason instanceof Error ? reason.message : 'aborted';
        pending.settle(
          fail(
            new AdapterError(
              'ADP_ERR_ABORTED',
              written
                ? `publish aborted after the message was written: ${detail}`
                : `publish aborted before the message was written: ${detail}`,
              { cause: reason, ambiguous: written },
            ),
          ),
        );
      };
      signal.addEventListener('abort', onAbort, { once: true });
      queue.push(pending);
    });
  }

  /** Writes queued messages while the channel can take them. Synchronous, so FIFO order holds. */
  function pump(): void {
    if (queue.length === 0) return;
    const current = session;
    if (!current || !current.open) return; // the session's end fails the queue
    if (blockedReason !== undefined) {
      failQueued(backpressureError());
      return;
    }
    let index = 0;
    while (index < queue.length) {
      if (current.needsDrain || current.unconfirmed.size >= config.maxInFlight) break;
      const pending = queue[index++]!;
      if (pending.state !== 'queued') continue; // timed out or aborted while waiting
      write(current, pending);
    }
    queue = index === queue.length ? [] : queue.slice(index);
  }

  function write(current: ChannelSession, pending: Pending): void {
    let flushed: boolean;
    try {
      flushed = current.channel.publish(
        config.exchange,
        pending.envelope.destination,
        pending.content,
        pending.properties,
      );
    } catch (error) {
      // amqplib throws before writing anything (closed channel, unencodable headers).
      pending.settle(fail(classifyAmqpError(error)));
      return;
    }
    const tag = current.nextTag++;
    pending.state = 'written';
    current.unconfirmed.set(tag, pending);
    const sameId = current.byMessageId.get(pending.envelope.id);
    if (sameId) sameId.push(pending);
    else current.byMessageId.set(pending.envelope.id, [pending]);
    if (!flushed) current.needsDrain = true;
  }

  function failQueued(error: AdapterError): void {
    const waiting = queue;
    queue = [];
    for (const pending of waiting) pending.settle(fail(error));
  }

  function forget(current: ChannelSession, tag: number, pending: Pending): void {
    current.unconfirmed.delete(tag);
    const sameId = current.byMessageId.get(pending.envelope.id);
    if (!sameId) return;
    const at = sameId.indexOf(pending);
    if (at >= 0) sameId.splice(at, 1);
    if (sameId.length === 0) current.byMessageId.delete(pending.envelope.id);
  }

  function onConfirm(current: ChannelSession, deliveryTag: number, multiple: boolean, nacked: boolean): void {
    const confirm = (tag: number, pending: Pending) => {
      forget(current, tag, pending);
      if (pending.state === 'settled') {
        log.debug(
          { messageId: pending.envelope.id, nacked },
          'confirm arrived after the message was settled (timeout or abort)',
        );
        return;
      }
      if (nacked) {
        // RabbitMQ nacks when a queue process failed to take the message, or a queue with
        // x-overflow=reject-publish is full.
        pending.settle(
          fail(
            new AdapterError(
              'ADP_ERR_REJECTED',
              `rabbitmq target ${target} refused message ${pending.envelope.id} (basic.nack)`,
            ),
          ),
        );
      } else if (pending.returned) {
        const { replyCode, replyText } = pending.returned;
        pending.settle(
          fail(
            new AdapterError(
              'ADP_ERR_UNROUTABLE',
              `no queue is bound to exchange "${config.exchange}" for routing key "${pending.envelope.destination}" ` +
                `(basic.return ${replyCode} ${replyText}); the message was not stored`,
            ),
          ),
        );
      } else {
        pending.settle({
          ok: true,
          receipt: { messageId: pending.envelope.id, broker: RABBITMQ_KIND, target },
        });
      }
    };
    if (multiple) {
      for (const [tag, pending] of current.unconfirmed) {
        if (tag > deliveryTag) break;
        confirm(tag, pending);
      }
    } else {
      const pending = current.unconfirmed.get(deliveryTag);
      if (pending) confirm(deliveryTag, pending);
    }
    pump();
  }

  /**
   * basic.return carries the message's properties but no delivery tag, so it is matched by message id
   * (and routing key). RabbitMQ sends basic.return for a mandatory message BEFORE the basic.ack for
   * that same message, on the same channel, and amqplib hands frames to us in socket order; so by the
   * time the ack arrives the message is already marked returned and is reported unroutable, never ok.
   * If two unconfirmed messages share an id (a retry while the first attempt is still in flight), the
   * oldest unreturned one with the same routing key is marked: both went to the same exchange with the
   * same key, so they route the same way.
   */
  function onReturn(current: ChannelSession, message: Message): void {
    const id: unknown = message.properties.messageId;
    const candidates = typeof id === 'string' ? current.byMessageId.get(id) : undefined;
    const pending = candidates?.find(
      (p) => !p.returned && p.envelope.destination === message.fields.routingKey,
    );
    if (!pending) {
      log.debug(
        { messageId: id, routingKey: message.fields.routingKey },
        'basic.return for a message no longer tracked',
      );
      return;
    }
    const fields = message.fields as { replyCode?: number; replyText?: string };
    pending.returned = { replyCode: fields.replyCode ?? 312, replyText: fields.replyText ?? 'NO_ROUTE' };
  }

  /** The channel is gone: settle everything that depended on it, right now. */
  function endSession(current: ChannelSession): void {
    if (!current.open) return;
    current.open = false;
    if (session === current) session = undefined;
    if (!closing) downSince ??= now();
    // With a server error ('error' came first) we know why; otherwise the connection under the
    // channel died, and its own 'close' handler records the reason right after this.
    const cause = current.closeError;
    lastError = cause
      ? classifyAmqpError(cause)
      : new AdapterError('ADP_ERR_UNAVAILABLE', 'the confirm channel closed (connection lost)');
    const unconfirmed = [...current.unconfirmed.values()];
    current.unconfirmed.clear();
    current.byMessageId.clear();
    let lost = 0;
    for (const pending of unconfirmed) {
      if (pending.state === 'settled') continue;
      lost++;
      pending.settle(
        fail(
          cause
            ? classifyAmqpError(cause, { inFlight: true })
            : new AdapterError(
                'ADP_ERR_CONNECTION_LOST',
                `connection to rabbitmq target ${target} lost before the confirm`,
              ),
        ),
      );
    }
    failQueued(unavailableError());
    if (closing) {
      log.info({ channel: current.id }, 'rabbitmq channel closed');
      return;
    }
    log.warn(
      { channel: current.id, code: lastError.code, error: lastError.message, unconfirmedLost: lost },
      'rabbitmq channel closed; its unconfirmed messages are reported as connection lost (ambiguous)',
    );
  }

  // --- connection supervision --------------------------------------------------------------------

  function resolveWaiters(): void {
    for (const waiter of waiters) waiter.resolve();
    waiters.clear();
  }

  function rejectWaiters(error: AdapterError): void {
    for (const waiter of waiters) waiter.reject(error);
    waiters.clear();
  }

  function noteFailure(error: unknown, what: string, attempt: number): void {
    lastError = classifyAmqpError(error);
    log.warn({ attempt, code: lastError.code, error: lastError.message }, `rabbitmq ${what} failed`);
    // A failure that retrying will not fix (bad credentials, a missing or mismatched exchange) fails
    // connect() loudly at start; the loop keeps retrying in the background in case an operator fixes it.
    if (!lastError.retriable) rejectWaiters(lastError);
  }

  /** Resolves after `ms`, or early when close() starts. */
  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (stop.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', done);
        resolve();
      }
      stop.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Rejects after `ms` with an ADP_ERR_UNAVAILABLE; `onLate` cleans up if the operation finishes later. */
  function within<T>(
    operation: Promise<T>,
    ms: number,
    what: string,
    onLate: (value: T) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        reject(new StepTimeoutError(what, ms));
      }, ms);
      operation.then(
        (value) => {
          clearTimeout(timer);
          if (timedOut) onLate(value);
          else resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          if (!timedOut) reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /**
   * Closes a connection, bounded: amqplib's close() waits for the server's close-ok, which never comes
   * from a frozen broker. Past the bound the socket is destroyed (amqplib then emits 'close').
   */
  async function closeConnection(model: AmqpConnection): Promise<void> {
    try {
      await within(model.close(), config.connectTimeoutMs, 'closing the connection', () => {});
    } catch {
      destroySocket(model);
    }
  }

  async function openSession(model: AmqpConnection): Promise<ChannelSession> {
    const channel = await model.createConfirmChannel();
    const id = ++sessionCounter;
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    const current: ChannelSession = {
      id,
      channel,
      nextTag: 1,
      unconfirmed: new Map(),
      byMessageId: new Map(),
      needsDrain: false,
      // Becomes true once the exchange is declared; a channel that fails before that is reported
      // by the supervisor, not by endSession.
      open: false,
      ended: false,
      closed,
    };
    // amqplib emits 'error' (with the server's reply code) and then 'close' when the server closes a
    // channel; only 'close' when the connection under it died.
    channel.on('error', (error: Error) => {
      current.closeError = error;
    });
    channel.on('close', () => {
      current.ended = true;
      endSession(current);
      markClosed();
    });
    channel.on('ack', (fields: { deliveryTag: number; multiple: boolean }) =>
      onConfirm(current, fields.deliveryTag, fields.multiple, false),
    );
    channel.on('nack', (fields: { deliveryTag: number; multiple: boolean }) =>
      onConfirm(current, fields.deliveryTag, fields.multiple, true),
    );
    channel.on('return', (message: Message) => onReturn(current, message));
    channel.on('drain', () => {
      current.needsDrain = false;
      pump();
    });
    try {
      if (config.declareExchange) {
        await channel.assertExchange(config.exchange, config.exchangeType, {
          durable: true,
          autoDelete: false,
        });
      } else {
        // Passive declare: fails with 404 if the exchange is missing, and creates nothing.
        await channel.checkExchange(config.exchange);
      }
    } catch (error) {
      channel.close().catch(() => {}); // usually already closed by the server's channel error
      throw error;
    }
    if (current.ended) throw current.closeError ?? new Error('the confirm channel closed while opening');
    current.open = true;
    return current;
  }

  /** Runs until close(): keeps one connection and one confirm channel open. */
  async function supervise(): Promise<void> {
    let attempt = 0;
    let everConnected = false;
    while (!closing) {
      let model: AmqpConnection | undefined;
      let alive = false;
      try {
        log.info({ url: safeUrl, attempt }, 'rabbitmq connecting');
        model = await within(
          openConnection(connectUrl, socketOptions),
          config.connectTimeoutMs + 1000,
          'connecting',
          (late) => {
            void closeConnection(late);
          },
        );
        alive = true;
        const opened = model;
        opened.on('error', (error: Error) => {
          log.warn({ error: error.message }, 'rabbitmq connection error');
        });
        opened.on('close', (error?: Error) => {
          alive = false;
          if (connection === opened) connection = undefined;
          blockedReason = undefined;
          if (!closing) {
            downSince ??= now();
            lastError = classifyAmqpError(error ?? new Error('connection closed'));
            log.warn({ code: lastError.code, error: lastError.message }, 'rabbitmq connection lost');
          }
        });
        opened.on('blocked', (reason: string) => {
          blockedReason = reason || 'resource alarm';
          log.warn(
            { reason: blockedReason },
            'rabbitmq blocked this connection (memory or disk alarm); publishes fail with ADP_ERR_BACKPRESSURE until it clears',
          );
          failQueued(backpressureError());
        });
        opened.on('unblocked', () => {
          blockedReason = undefined;
          log.warn({}, 'rabbitmq unblocked this connection; publishing resumes');
          pump();
        });
        connection = opened;
        log.info({ url: safeUrl, exchange: config.exchange }, 'rabbitmq connection open');

        // Channel loop: a channel error closes only the channel; reopen it on the same connection.
        while (!closing && alive) {
          try {
            const current = await within(
              openSession(opened),
              config.connectTimeoutMs,
              'opening the confirm channel',
              (late) => {
                late.channel.close().catch(() => {});
              },
            );
            if (closing || !alive) {
              current.channel.close().catch(() => {});
              break;
            }
            session = current;
            lastError = undefined;
            const wasDownFor = downSince === undefined ? undefined : now() - downSince;
            downSince = undefined;
            if (everConnected) {
              log.info(
                { channel: current.id, attempts: attempt, downMs: wasDownFor },
                'rabbitmq publishing recovered',
              );
            } else {
              log.info(
                { channel: current.id, exchange: config.exchange, exchangeType: config.exchangeType },
                'rabbitmq connected; publishing',
              );
            }
            everConnected = true;
            attempt = 0;
            resolveWaiters();
            pump();
            await current.closed;
          } catch (error) {
            if (!alive) break;
            noteFailure(error, 'opening the confirm channel', attempt + 1);
            // A channel that hung while opening means the broker stopped answering: drop the
            // connection and start over, rather than stack channels on it.
            if (error instanceof StepTimeoutError) destroySocket(opened);
          }
          if (closing || !alive) break;
          attempt++;
          const delay = backoffDelay(attempt, config.reconnect, random);
          log.warn({ attempt, backoffMs: delay }, 'rabbitmq reopening the confirm channel');
          await sleep(delay);
        }
        // Still open here only when close() started (possibly before `connection` was set): close it.
        if (alive) await closeConnection(opened);
      } catch (error) {
        noteFailure(error, 'connection attempt', attempt + 1);
        if (model && alive) await closeConnection(model);
      }
      if (closing) break;
      attempt++;
      const delay = backoffDelay(attempt, config.reconnect, random);
      log.warn({ attempt, backoffMs: delay, lastError: lastError?.code }, 'rabbitmq reconnecting');
      await sleep(delay);
    }
  }

  // --- the adapter ---------------------------------------------------------------------------------

  return {
    kind: RABBITMQ_KIND,
    target,
    capabilities,

    connect(signal?: AbortSignal): Promise<void> {
      if (closing)
        return Promise.reject(new AdapterError('ADP_ERR_CLOSED', `rabbitmq target ${target} is closed`));
      if (!started) {
        started = true;
        supervisor = supervise().catch((error: unknown) => {
          log.error(
            { error: error instanceof Error ? error.message : String(error) },
            'rabbitmq supervisor stopped unexpectedly',
          );
        });
      }
      if (session?.open) return Promise.resolve();
      if (signal?.aborted) return Promise.reject(unavailableError());
      return new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          waiters.delete(waiter);
          reject(unavailableError());
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
        waiters.add(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    async publish(batch: readonly MessageEnvelope[], options: PublishOptions): Promise<PublishResult[]> {
      const { signal } = options;
      if (closing) throw new AdapterError('ADP_ERR_CLOSED', `rabbitmq target ${target} is closed`);
      if (signal.aborted) {
        const reason: unknown = signal.reason;
        throw new AdapterError(
          'ADP_ERR_ABORTED',
          `publish aborted before sending: ${reason instanceof Error ? reason.message : 'aborted'}`,
          {
            cause: reason,
            ambiguous: false,
          },
        );
      }
      if (!session?.open) throw unavailableError();
      if (blockedReason !== undefined) throw backpressureError();
      const fanned = fanOutSignal(signal, batch.length);
      const outcomes = batch.map((envelope) => enqueue(envelope, fanned.signal));
      pump();
      const call = Promise.all(outcomes);
      activeCalls.add(call);
      try {
        return await call;
      } finally {
        activeCalls.delete(call);
        fanned.release();
      }
    },

    async health(): Promise<HealthReport> {
      if (closing) return { ok: false, detail: 'closed' };
      if (!session?.open) {
        return {
          ok: false,
          detail: `not connected to ${safeUrl}${lastError ? `: ${lastError.code} ${lastError.message}` : ''}`,
        };
      }
      if (blockedReason !== undefined)
        return { ok: false, detail: `blocked by the broker: ${blockedReason}` };
      return { ok: true, detail: `connected to ${safeUrl}, exchange ${config.exchange}` };
    },

    close(): Promise<void> {
      closePromise ??= (async () => {
        closing = true;
        log.info({ inFlightCalls: activeCalls.size }, 'rabbitmq adapter closing');
        rejectWaiters(
          new AdapterError('ADP_ERR_CLOSED', `rabbitmq target ${target} was closed while connecting`),
        );
        // Every call settles within confirmTimeoutMs (or sooner if the channel dies).
        await Promise.allSettled([...activeCalls]);
        stop.abort();
        const open = connection;
        if (open) await closeConnection(open);
        await supervisor;
        log.info({}, 'rabbitmq adapter closed');
      })();
      return closePromise;
    },
  };
}

/** A connection step (connect, open channel, close) the broker did not answer in time. */
class StepTimeoutError extends AdapterError {
  constructor(what: string, ms: number) {
    super('ADP_ERR_UNAVAILABLE', `${what} took longer than ${ms} ms`);
  }
}

/**
 * Last resort when the broker stops answering: destroy the socket with an error so amqplib runs its
 * normal socket-error path (channels closed, then the connection's 'close'). amqplib has no public
 * API for this; its ChannelModel keeps the Connection, which keeps the socket as `stream`.
 */
function destroySocket(model: AmqpConnection): void {
  const stream = (model as { connection?: { stream?: { destroy?: (error?: Error) => void } } }).connection
    ?.stream;
  stream?.destroy?.(new Error('broker unresponsive; connection dropped by pubgate'));
}
