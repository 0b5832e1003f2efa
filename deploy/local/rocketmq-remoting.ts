/**
 * A minimal client for RocketMQ's remoting protocol (the TCP protocol of the NameServer and the
 * broker, not the proxy's gRPC), just enough for local provisioning: ask the NameServer which
 * brokers are registered, look up a topic's route, and create or update a topic on a broker.
 *
 * Why not `mqadmin` (MQAdminStartup)? It does the same, but every call starts a JVM and then waits
 * about 5 s in its client shutdown: about 6.5 s per topic on a 2-core machine, against a few
 * milliseconds here. `createRocketTopic(..., { via: 'mqadmin' })` in brokers.ts still uses it.
 *
 * Frame: int32 total length (excluding itself) | int32 (serialize type << 24 | header length) |
 * header (JSON) | body. Requests go out with serialize type 0 (JSON), so responses come back in
 * JSON too. Bodies are fastjson text, whose maps with number keys are not valid JSON
 * (`{0:"127.0.0.1:10911"}`); `parseFastjson` quotes those keys.
 */
import { createConnection } from 'node:net';

/** Request codes used here (org.apache.rocketmq.remoting.protocol.RequestCode). */
export const RequestCode = {
  UPDATE_AND_CREATE_TOPIC: 17,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
} as const;

/** Response codes used here (ResponseCode). */
export const ResponseCode = { SUCCESS: 0, TOPIC_NOT_EXIST: 17 } as const;

/** MQVersion.CURRENT_VERSION of RocketMQ 5.3.3 (the ordinal of Version.V5_3_3). */
const CLIENT_VERSION = 479;

export interface RemotingResponse {
  code: number;
  remark: string | undefined;
  extFields: Record<string, string>;
  body: Buffer;
}

interface RemotingHeader {
  code?: unknown;
  remark?: unknown;
  opaque?: unknown;
  flag?: unknown;
  extFields?: unknown;
}

let nextOpaque = 1;

function encodeRequest(
  code: number,
  opaque: number,
  extFields: Record<string, string>,
  body?: Buffer,
): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      code,
      language: 'JAVA',
      version: CLIENT_VERSION,
      opaque,
      flag: 0,
      extFields,
      serializeTypeCurrentRPC: 'JSON',
    }),
    'utf8',
  );
  const payload = body ?? Buffer.alloc(0);
  const frame = Buffer.alloc(8 + header.length + payload.length);
  frame.writeInt32BE(4 + header.length + payload.length, 0);
  frame.writeInt32BE(header.length & 0xffffff, 4); // high byte 0 = JSON
  header.copy(frame, 8);
  payload.copy(frame, 8 + header.length);
  return frame;
}

function decodeFrame(frame: Buffer): { header: RemotingHeader; body: Buffer } {
  const lengthField = frame.readInt32BE(0);
  const serializeType = (lengthField >>> 24) & 0xff;
  const headerLength = lengthField & 0xffffff;
  if (serializeType !== 0) {
    throw new Error(`unexpected remoting serialize type ${serializeType} (asked for JSON)`);
  }
  const header = JSON.parse(frame.subarray(4, 4 + headerLength).toString('utf8')) as RemotingHeader;
  return { header, body: frame.subarray(4 + headerLength) };
}

function toStringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = String(v);
  }
  return out;
}

/**
 * Sends one request to `address` ("host:port") on a fresh connection and resolves with the
 * response. Rejects on connection errors and after `timeoutMs`.
 */
export function remotingRequest(
  address: string,
  code: number,
  extFields: Record<string, string> = {},
  { timeoutMs = 5_000, body }: { timeoutMs?: number; body?: Buffer } = {},
): Promise<RemotingResponse> {
  const separator = address.lastIndexOf(':');
  const host = address.slice(0, separator);
  const port = Number(address.slice(separator + 1));
  const opaque = nextOpaque++;
  return new Promise<RemotingResponse>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, response?: RemotingResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else if (response) resolve(response);
    };
    const timer = setTimeout(
      () => finish(new Error(`no answer from ${address} to remoting request ${code} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const socket = createConnection({ host, port }, () => {
      socket.write(encodeRequest(code, opaque, extFields, body));
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () =>
      finish(new Error(`${address} closed the connection before answering request ${code}`)),
    );
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4) {
        const length = buffered.readInt32BE(0);
        if (buffered.length < 4 + length) return;
        const frame = buffered.subarray(4, 4 + length);
        buffered = buffered.subarray(4 + length);
        try {
          const { header, body: responseBody } = decodeFrame(frame);
          if (header.opaque !== opaque) continue; // not ours (cannot happen on a fresh connection)
          finish(undefined, {
            code: Number(header.code),
            remark: typeof header.remark === 'string' ? header.remark : undefined,
            extFields: toStringRecord(header.extFields),
            body: responseBody,
          });
        } catch (error) {
          finish(error instanceof Error ? error : new Error(String(error)));
        }
        return;
      }
    });
  });
}

/** Parses fastjson output, quoting the bare number keys it writes for maps keyed by numbers. */
export function parseFastjson(text: string): unknown {
  return JSON.parse(text.replace(/([{,])\s*(-?\d+)\s*:/g, '$1"$2":'));
}

export interface RocketBrokerInfo {
  cluster: string;
  brokerName: string;
  /** brokerId -> "host:port"; id 0 is the master. */
  addresses: Map<number, string>;
}

/** GET_BROKER_CLUSTER_INFO from the NameServer: the brokers it has registered. */
export async function getClusterInfo(namesrv: string, timeoutMs = 5_000): Promise<RocketBrokerInfo[]> {
  const response = await remotingRequest(namesrv, RequestCode.GET_BROKER_CLUSTER_INFO, {}, { timeoutMs });
  if (response.code !== ResponseCode.SUCCESS) {
    throw new Error(
      `NameServer ${namesrv} refused GET_BROKER_CLUSTER_INFO: code ${response.code} ${response.remark ?? ''}`,
    );
  }
  const parsed = parseFastjson(response.body.toString('utf8')) as {
    brokerAddrTable?: Record<
      string,
      { cluster?: string; brokerName?: string; brokerAddrs?: Record<string, string> }
    >;
  };
  const brokers: RocketBrokerInfo[] = [];
  for (const [name, entry] of Object.entries(parsed.brokerAddrTable ?? {})) {
    const addresses = new Map<number, string>();
    for (const [id, address] of Object.entries(entry.brokerAddrs ?? {})) addresses.set(Number(id), address);
    brokers.push({ cluster: entry.cluster ?? '', brokerName: entry.brokerName ?? name, addresses });
  }
  return brokers;
}

/** GET_ROUTEINFO_BY_TOPIC from the NameServer: true when the topic has a route. */
export async function topicHasRoute(namesrv: string, topic: string, timeoutMs = 5_000): Promise<boolean> {
  const response = await remotingRequest(
    namesrv,
    RequestCode.GET_ROUTEINFO_BY_TOPIC,
    { topic },
    { timeoutMs },
  );
  if (response.code === ResponseCode.SUCCESS) return true;
  if (response.code === ResponseCode.TOPIC_NOT_EXIST) return false;
  throw new Error(
    `NameServer ${namesrv} refused GET_ROUTEINFO_BY_TOPIC: code ${response.code} ${response.remark ?? ''}`,
  );
}

export interface TopicSpec {
  topic: string;
  readQueueNums: number;
  writeQueueNums: number;
  /** 6 = read + write. */
  perm?: number;
  /** e.g. "+message.type=FIFO" (several: comma separated). */
  attributes?: string;
}

/** UPDATE_AND_CREATE_TOPIC on one broker (what `mqadmin updateTopic` sends to each master). */
export async function updateAndCreateTopic(
  brokerAddress: string,
  spec: TopicSpec,
  timeoutMs = 10_000,
): Promise<void> {
  const extFields: Record<string, string> = {
    topic: spec.topic,
    defaultTopic: 'TBW102',
    readQueueNums: String(spec.readQueueNums),
    writeQueueNums: String(spec.writeQueueNums),
    perm: String(spec.perm ?? 6),
    topicFilterType: 'SINGLE_TAG',
    topicSysFlag: '0',
    order: 'false',
  };
  if (spec.attributes) extFields.attributes = spec.attributes;
  const response = await remotingRequest(brokerAddress, RequestCode.UPDATE_AND_CREATE_TOPIC, extFields, {
    timeoutMs,
  });
  if (response.code !== ResponseCode.SUCCESS) {
    throw new Error(
      `broker ${brokerAddress} refused to create topic ${spec.topic}: code ${response.code} ${response.remark ?? ''}`.trim(),
    );
  }
}
