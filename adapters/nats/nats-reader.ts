/**
 * A real JetStream consumer of one destination (its subject), from the start of the stream that
 * binds it: an ordered consumer (ephemeral, no acks, flow controlled by the client) filtered on
 * the subject, read with fetch. Used by the verifier and the tests to read back what the gateway
 * published.
 *
 * - JetStream keeps what the stream stored, whenever the reader starts: nothing has to exist
 *   before publishing except the stream. A subject no stream binds yet (provisioning creates it on
 *   the first publish) is looked up again every RETRY_DELAY_MS until one does.
 * - Reading does not consume: other consumers of the stream see every message too.
 * - After a server restart (or any consumer failure) it reconnects and resumes after the last
 *   stream sequence it received, so nothing is missed and nothing is reported twice.
 */
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import {
  createReadBuffer,
  fromWireHeaders,
  readerOf,
  type AdapterDeps,
  type DestinationReader,
  type ReadBuffer,
  type ReaderOptions,
} from '../core/index.js';
import type { NatsConfig } from './config.js';
import { connectionOptions } from './connection.js';
import { toSubject } from './subject.js';
import { fromNatsHeaders } from './wire.js';

const RETRY_DELAY_MS = 500;
const FETCH_BATCH = 256;
const FETCH_EXPIRES_MS = 1000;

/** The ReadMessage of a stored JetStream message. */
function toReadMessage(message: JsMsg) {
  const wire = fromWireHeaders(fromNatsHeaders(message.headers));
  return {
    id: wire.id || (message.headers?.get('Nats-Msg-Id') ?? ''),
    tenant: wire.tenant,
    topic: wire.topic,
    ...(wire.key === undefined ? {} : { key: wire.key }),
    contentType: wire.contentType,
    headers: wire.headers,
    // A copy: the client reuses nothing, but the buffer outlives the message.
    payload: new Uint8Array(message.data),
    offset: String(message.seq),
    ...(wire.seq === undefined ? {} : { seq: wire.seq }),
    ...(wire.producer === undefined ? {} : { producer: wire.producer }),
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

export async function createNatsReader(
  config: NatsConfig,
  options: ReaderOptions,
  _deps: AdapterDeps,
): Promise<DestinationReader> {
  const subject = toSubject(options.destination, config);
  const buffer = createReadBuffer(`nats reader of subject ${subject}`);
  const state = { closed: false, lastSeq: 0, nc: undefined as NatsConnection | undefined };
  const connectOptions = { ...connectionOptions('reader', config), name: `pubgate-reader:${subject}` };

  /** One connection's worth of reading; returns when the connection or consumer fails. */
  async function readOnce(): Promise<void> {
    const nc = await natsConnect(connectOptions);
    state.nc = nc;
    try {
      const jsm = await jetstreamManager(nc, { timeout: config.connectTimeoutMs });
      let stream: string | undefined;
      while (!state.closed && stream === undefined) {
        stream = await jsm.streams.find(subject).catch(() => undefined);
        if (stream === undefined) await pause(RETRY_DELAY_MS);
      }
      if (state.closed || stream === undefined) return;
      const consumer = await jetstream(nc).consumers.get(stream, {
        filter_subjects: subject,
        ...(state.lastSeq === 0
          ? { deliver_policy: DeliverPolicy.All }
          : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: state.lastSeq + 1 }),
      });
      await fetchLoop(consumer, buffer);
    } finally {
      if (state.nc === nc) state.nc = undefined;
      await nc.close().catch(() => {});
    }
  }

  /** Fetches until the reader closes; every message once, in stream order. */
  async function fetchLoop(
    consumer: Awaited<ReturnType<ReturnType<typeof jetstream>['consumers']['get']>>,
    into: ReadBuffer,
  ): Promise<void> {
    while (!state.closed) {
      const messages = await consumer.fetch({ max_messages: FETCH_BATCH, expires: FETCH_EXPIRES_MS });
      for await (const message of messages) {
        if (message.seq <= state.lastSeq) continue; // a redelivery after a consumer reset
        state.lastSeq = message.seq;
        into.push(toReadMessage(message));
      }
    }
  }

  async function run(): Promise<void> {
    while (!state.closed) {
      await readOnce().catch(() => {});
      if (!state.closed) await pause(RETRY_DELAY_MS);
    }
  }

  // The first connection must work: a reader of an unreachable server fails loudly.
  const probe = await natsConnect(connectOptions);
  await probe.close();
  void run();

  return readerOf(buffer, async () => {
    state.closed = true;
    await state.nc?.close().catch(() => {});
  });
}
