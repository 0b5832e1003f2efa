/**
 * The broker-neutral message. Field names follow CloudEvents attributes where one exists
 * (id, source ~ tenant, subject ~ key, datacontenttype ~ contentType, time ~ createdAt).
 *
 * Envelopes are created once by the gateway and never mutated afterwards; adapters read them.
 */
export interface MessageEnvelope {
  /** Stable message id: a UUIDv7 unless the caller supplied a valid one. Travels to the broker. */
  readonly id: string;
  /** The tenant that published it; always taken from the credential, never from the request. */
  readonly tenant: string;
  /** Logical topic as the caller named it. */
  readonly topic: string;
  /**
   * Broker-side destination (whatever the adapter publishes to: a topic, a routing key) resolved by
   * the route. Equal to `topic` unless the route maps it.
   */
  readonly destination: string;
  /** Ordering / partition / sharding key. Messages with the same key keep their order. */
  readonly key?: string;
  readonly payload: Uint8Array;
  readonly contentType: string;
  /** Allow-listed user headers and gateway headers (traceparent, sequence numbers). */
  readonly headers: Readonly<Record<string, string>>;
  /** Delayed delivery time (epoch ms), where the broker or the reliability layer supports it. */
  readonly deliverAt?: number;
  /** When the gateway accepted the message (epoch ms). */
  readonly createdAt: number;
}

/** What a broker returned for a durable write. Only the fields a broker knows are set. */
export interface PublishReceipt {
  readonly messageId: string;
  /** Adapter kind: the `kind` of the target's config. */
  readonly broker: string;
  /** Name of the configured broker target (a key of `brokers:` in the config). */
  readonly target: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly brokerMessageId?: string;
}
