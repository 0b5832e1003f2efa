/**
 * The message on the wire: the gateway's wire headers (adapters/core/wire-headers.ts) as NATS
 * headers, and back. Names are kept exactly as written (NATS headers are case-sensitive; nats.js
 * matches them exactly by default), so a consumer reads `pubgate-id` like on every other broker.
 *
 * NATS headers cannot carry everything an AMQP or Kafka header can: a value loses leading and
 * trailing whitespace (the client trims it, and so does its parser), and names take only printable
 * ASCII without ":". Such a message is refused before sending (bytes in = bytes out), never stored
 * changed.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { AdapterError, toWireHeaders, type MessageEnvelope } from '../core/index.js';

/**
 * Headers NATS and JetStream give a meaning of their own. Nats-Msg-Id is the one the adapter sets
 * (= the envelope id); the others (expected stream, sequence, TTL, rollup, scheduling) a publisher
 * must not set. Any name starting with `Nats-` is refused by the gateway (declared in index.ts).
 */
export const NATS_HEADER_PREFIX = 'Nats-';
export const MSG_ID_HEADER = 'Nats-Msg-Id';

/** A header name NATS can carry: printable ASCII (33-126) without ":". */
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/**
 * Why the header cannot travel on NATS exactly as given, or undefined when it can. Checked for
 * every wire header (the user's and the gateway's own, the ordering key included).
 */
export function headerProblem(name: string, value: string): string | undefined {
  if (!HEADER_NAME.test(name))
    return `header name ${JSON.stringify(name)} is not printable ASCII without ":"`;
  if (name.toLowerCase().startsWith(NATS_HEADER_PREFIX.toLowerCase())) {
    return `header name ${name} is reserved by NATS (Nats-*)`;
  }
  if (/[\r\n]/.test(value)) return `header ${name} contains CR or LF`;
  if (value !== value.trim()) {
    return `header ${name} has leading or trailing whitespace, which NATS headers do not keep`;
  }
  return undefined;
}

/**
 * The NATS headers of an envelope: every wire header, then Nats-Msg-Id = the envelope id (the
 * stream drops a second message with the same id within its duplicate window). Throws
 * ADP_ERR_REJECTED for a header NATS would not keep exactly (see headerProblem).
 */
export function toNatsHeaders(envelope: MessageEnvelope): MsgHdrs {
  const wire = toWireHeaders(envelope);
  const result = natsHeaders();
  for (const [name, value] of Object.entries(wire)) {
    const problem = headerProblem(name, value);
    if (problem !== undefined) {
      throw new AdapterError('ADP_ERR_REJECTED', `message ${envelope.id}: ${problem}`);
    }
    result.set(name, value);
  }
  result.set(MSG_ID_HEADER, envelope.id);
  return result;
}

/**
 * The wire header map of a received message: every header but NATS's own (Nats-*), first value
 * of each. The reverse of toNatsHeaders; feed it to fromWireHeaders.
 */
export function fromNatsHeaders(received: MsgHdrs | undefined): Record<string, string> {
  const entries: [string, string][] = [];
  for (const name of received?.keys() ?? []) {
    if (name.toLowerCase().startsWith(NATS_HEADER_PREFIX.toLowerCase())) continue;
    entries.push([name, received!.get(name)]);
  }
  // Object.fromEntries defines every name as an own property (`__proto__` included).
  return Object.fromEntries(entries);
}
