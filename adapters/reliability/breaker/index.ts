export * from './target-breakers.js';
