#!/usr/bin/env node
/**
 * Process entry point: load config (fail loudly), build the gateway, handle signals
 * (SIGTERM/SIGINT drain and exit; SIGHUP reloads the config).
 *   node dist/gateway/main.js [--config <path>]      (or PUBGATE_CONFIG=<path>)
 */
import { ConfigError, loadConfig } from './config/load.js';
import { createGateway } from './gateway.js';
import { createLogger } from './observability/logger.js';

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`pubgate: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(loaded.config.log.level);
  for (const warning of loaded.warnings) logger.warn({}, warning);

  const gateway = createGateway(loaded, {
    logger,
    setLogLevel: (level) => {
      logger.level = level;
    },
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'signal received');
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP: reload the config (the gateway logs the outcome; a refused config changes nothing).
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'signal received: reloading the configuration');
    gateway.reload('signal').catch((error: unknown) => logger.error({ err: error }, 'config reload failed'));
  });
  process.on('unhandledRejection', (reason) => {
    // A bug, not input: log it loudly but keep serving; every request path has its own handler.
    logger.error({ err: reason }, 'unhandled promise rejection');
  });

  try {
    await gateway.start();
  } catch (error) {
    logger.error({ err: error }, 'pubgate failed to start');
    process.exit(1);
  }
}

void main();
