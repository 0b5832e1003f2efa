export * from './adapter.js';
export * from './batch.js';
export * from './envelope.js';
export * from './errors.js';
export * from './logger.js';
export * from './wire-headers.js';
