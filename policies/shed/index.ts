export * from './load-shedder.js';
export * from './load-shed.policy.js';
