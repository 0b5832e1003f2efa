/**
 * CloudEvents binary mode on the single publish (POST /v1/topics/{topic}/messages): a request with
 * `ce-id` or `ce-specversion` headers is an event, validated like a structured one, whose id is
 * the message id, and which the route publishes binary (attributes as headers, renamed by each
 * broker's binding) or structured (`cloudEvents: {mode: structured}`).
 */
import type { RouteConfig } from '../config/schema.js';
import { GatewayError } from '../errors/registry.js';
import {
  binaryHeaders,
  readBinaryEvent,
  STRUCTURED_CONTENT_TYPE,
  structuredEvent,
} from '../publish/cloudevents.js';

export interface BinaryEvent {
  readonly id: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly contentType: string;
}

/**
 * The binary-mode event of a request's copied headers (`ce-*`, already decoded as UTF-8), or
 * undefined when it is not an event. Throws the 400 of an invalid event, or of a Message-Id that
 * differs from the event id.
 */
export function binaryEvent(
  headers: Readonly<Record<string, string>>,
  contentType: string,
  messageId: string | undefined,
): BinaryEvent | undefined {
  const read = readBinaryEvent(headers, contentType);
  if (read === undefined) return undefined;
  if ('error' in read) throw read.error;
  if (messageId !== undefined && messageId !== read.value.id) {
    throw new GatewayError(
      'GW_ERR_INVALID_MESSAGE_ID',
      `Message-Id ${messageId} differs from ce-id ${read.value.id}; the event id is the message id`,
    );
  }
  return read.value;
}

/** What the envelope of a binary-mode event carries, by the route's CloudEvents mode. */
export function binaryEventOutput(
  route: RouteConfig,
  event: BinaryEvent,
  headers: Readonly<Record<string, string>>,
  payload: Uint8Array,
): { headers: Record<string, string>; payload: Uint8Array; contentType: string } {
  if (route.cloudEvents.mode === 'structured') {
    const others = Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith('ce-')));
    return {
      headers: others,
      payload: structuredEvent({ attributes: event.attributes, payload, contentType: event.contentType }),
      contentType: STRUCTURED_CONTENT_TYPE,
    };
  }
  // Attributes with their percent-decoded values: the binding of each broker carries them as is.
  return { headers: binaryHeaders(event.attributes, headers), payload, contentType: event.contentType };
}
