/**
 * The composition root: builds every part of a gateway from a loaded config, and owns its
 * lifecycle (listen, drain, close). main.ts adds only the process concerns (argv, signals, exit).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../adapters/core/index.js';
import { openApiDocument } from '../openapi/index.js';
import { createApiKeyPolicy } from '../policies/auth/index.js';
import { createTopicAclPolicy } from '../policies/acl/index.js';
import { composePolicies } from '../policies/core/index.js';
import type { LoadedConfig } from './config/load.js';
import { createApp } from './http/app.js';
import { createMetrics, type GatewayMetrics } from './observability/metrics.js';
import { createPublisher } from './publish/publisher.js';
import { createRouter } from './routing.js';
import { createTargets, type Targets } from './targets.js';

export interface GatewayDeps {
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface Gateway {
  /** Connects the broker targets (in the background if they are slow) and starts listening. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops accepting, lets in-flight requests finish (up to shutdownTimeoutMs), closes targets. */
  stop(): Promise<void>;
  readonly metrics: GatewayMetrics;
  readonly targets: Targets;
}

export function createGateway(loaded: LoadedConfig, deps: GatewayDeps): Gateway {
  const { config } = loaded;
  const logger = deps.logger;
  const now = deps.now ?? Date.now;
  const metrics = createMetrics();
  const targets = createTargets(config.brokers, { logger, metrics, now, baseDir: loaded.baseDir });
  const router = createRouter(config.routes);
  const publisher = createPublisher({ targets, metrics });
  // The order is the contract: who you are, then what you may touch.
  const policy = composePolicies([
    createApiKeyPolicy({ tenants: config.tenants }),
    createTopicAclPolicy({ tenants: config.tenants }),
  ]);
  const shutdown = new AbortController();
  let shuttingDown = false;

  const app = createApp({
    config,
    policy,
    router,
    publisher,
    targets,
    metrics,
    logger,
    now,
    shutdownSignal: shutdown.signal,
    openapi: openApiDocument(),
    isShuttingDown: () => shuttingDown,
    retryAfterSeconds: config.server.retryAfterSeconds,
    trustProxy: config.server.trustProxy,
  });

  const server: Server = createServer(
    {
      headersTimeout: config.server.headersTimeoutMs,
      requestTimeout: config.server.requestTimeoutMs,
      keepAliveTimeout: config.server.keepAliveTimeoutMs,
    },
    app,
  );
  server.on('clientError', (error, socket) => {
    logger.debug({ err: error }, 'client error on connection');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  let stopping: Promise<void> | undefined;

  return {
    metrics,
    targets,
    async start() {
      // Listen first so probes answer while brokers connect; readiness reports them.
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.server.port, config.server.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port, address } = server.address() as AddressInfo;
      const host = address.includes(':') ? `[${address}]` : address;
      await targets.connectAll();
      logger.info(
        { port, host: address, targets: targets.names(), config: loaded.source ?? 'development default' },
        'pubgate listening',
      );
      return { url: `http://${host}:${port}`, port };
    },
    stop() {
      stopping ??= (async () => {
        shuttingDown = true;
        logger.info(
          { drainTimeoutMs: config.server.shutdownTimeoutMs },
          'shutting down: draining in-flight requests',
        );
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => {
          logger.warn({}, 'drain timeout reached: aborting in-flight publishes and closing connections');
          shutdown.abort(new Error('gateway shutdown timeout'));
          server.closeAllConnections();
        }, config.server.shutdownTimeoutMs);
        timer.unref();
        await closed;
        clearTimeout(timer);
        await targets.close();
        logger.info({}, 'pubgate stopped');
      })();
      return stopping;
    },
  };
}
