import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { Logger } from '../../adapters/core/index.js';

/**
 * JSON-lines logs on stdout (or a given stream, for tests). Field names follow pino: `level`,
 * `time`, `msg`; every request log carries `requestId`, every adapter log `target`.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger & PinoLogger {
  return pino(
    {
      level,
      base: { service: 'pubgate' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['authorization', 'req.headers.authorization', '*.password', '*.url'],
        censor: '[redacted]',
      },
      serializers: { err: pino.stdSerializers.errWithCause },
    },
    destination ?? pino.destination({ sync: true }),
  );
}
