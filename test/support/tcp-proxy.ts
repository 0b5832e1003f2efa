/**
 * A small fault-injecting TCP proxy: forwards every connection to one upstream, and on command
 * - drop():   refuses new connections (accepts and resets them at once) — a dead port, seen
 *             from the client;
 * - reset():  resets (TCP RST) every live connection — a cut mid-stream;
 * - delay(ms): adds latency to every chunk in both directions;
 * - heal():   back to plain forwarding (live connections are kept).
 * close() is idempotent and ends everything.
 *
 * Clients that learn other addresses from the broker bypass a proxy: Kafka clients reconnect to the
 * ADVERTISED listener, so the local Kafka has a listener advertised at the proxy's port (see
 * deploy/local/README.md). RocketMQ's Node client keeps talking to the proxy endpoint it was given;
 * RabbitMQ is one TCP connection.
 */
import net from 'node:net';

export interface TcpProxyOptions {
  readonly upstream: { readonly host: string; readonly port: number };
  /** Port to listen on (127.0.0.1). Default: any free port. */
  readonly port?: number;
  readonly host?: string;
}

export interface TcpProxyStats {
  readonly accepted: number;
  readonly refused: number;
  readonly reset: number;
  readonly live: number;
  /** Bytes forwarded from clients to the upstream: shows that traffic really went through. */
  readonly bytesUp: number;
}

export interface TcpProxy {
  readonly port: number;
  readonly mode: 'forward' | 'drop';
  drop(): void;
  reset(): number;
  delay(ms: number): void;
  heal(): void;
  stats(): TcpProxyStats;
  close(): Promise<void>;
}

export async function createTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const live = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let mode: 'forward' | 'drop' = 'forward';
  let delayMs = 0;
  let accepted = 0;
  let refused = 0;
  let resetCount = 0;
  let bytesUp = 0;

  function pipe(from: net.Socket, to: net.Socket, count?: (bytes: number) => void): void {
    from.on('data', (chunk: Buffer) => {
      count?.(chunk.length);
      if (delayMs === 0) {
        if (!to.write(chunk)) from.pause();
        return;
      }
      // Order is kept: every chunk waits the same delay and timers of equal delay fire in order.
      const timer = setTimeout(() => {
        if (!to.destroyed && !to.write(chunk)) from.pause();
      }, delayMs);
      timer.unref();
    });
    to.on('drain', () => from.resume());
  }

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    if (mode === 'drop') {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    accepted += 1;
    const upstream = net.connect(options.upstream);
    const pair = { client, upstream };
    live.add(pair);
    const end = () => {
      live.delete(pair);
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', () => {
      // The upstream is gone: reset the client too, like a broker that died would.
      if (!client.destroyed) client.resetAndDestroy();
      end();
    });
    client.on('close', end);
    upstream.on('close', end);
    upstream.on('connect', () => {
      pipe(client, upstream, (bytes) => (bytesUp += bytes));
      pipe(upstream, client);
      client.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  function resetAll(): number {
    let count = 0;
    for (const { client, upstream } of [...live]) {
      count += 1;
      if (!client.destroyed) client.resetAndDestroy();
      if (!upstream.destroyed) upstream.resetAndDestroy();
    }
    live.clear();
    resetCount += count;
    return count;
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    get mode() {
      return mode;
    },
    drop() {
      mode = 'drop';
    },
    reset: resetAll,
    delay(ms) {
      delayMs = Math.max(0, ms);
    },
    heal() {
      mode = 'forward';
      delayMs = 0;
    },
    stats: () => ({ accepted, refused, reset: resetCount, live: live.size, bytesUp }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        resetAll();
      });
      return closing;
    },
  };
}
