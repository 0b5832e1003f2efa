#!/usr/bin/env node
/**
 * pubgate verify: reads a topic back with a real consumer of its broker and reports gaps,
 * duplicates, lost and unexpected messages.
 *
 *   npm run verify -- --config <file> --topic <topic> [--queue <q>] [--group <g>]
 *                     [--expect <ids file>] [--idle-ms 3000] [--max-ms 120000] [--json]
 *
 * The topic is resolved through the config's routes to its broker target and destination.
 * `--expect` names a file with one message id per line (e.g. the ids your client got 2xx for).
 * Exit code: 0 when nothing expected is lost and nothing unexpected arrived, 1 otherwise,
 * 2 for bad arguments or config.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { silentLogger } from '../../adapters/core/index.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { formatDeliveryReport } from './analyze.js';
import { resolveTopic, verifyTopic } from './verify.js';

const USAGE =
  'usage: verify --config <file> --topic <topic> [--queue <q>] [--group <g>] [--expect <ids file>] ' +
  '[--idle-ms 3000] [--max-ms 120000] [--json]';

function fail(message: string): never {
  process.stderr.write(`verify: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) fail(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        config: { type: 'string' },
        topic: { type: 'string' },
        queue: { type: 'string' },
        group: { type: 'string' },
        expect: { type: 'string' },
        'idle-ms': { type: 'string' },
        'max-ms': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (!values.config) fail('--config is required');
  if (!values.topic) fail('--topic is required');
  let loaded;
  try {
    loaded = loadConfig({ argv: ['--config', values.config] });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  let expected: string[] | undefined;
  if (values.expect !== undefined) {
    try {
      expected = readFileSync(values.expect, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean);
    } catch (error) {
      fail(`cannot read ${values.expect}: ${(error as Error).message}`);
    }
  }
  let resolved;
  try {
    resolved = resolveTopic(loaded.config, values.topic);
  } catch (error) {
    fail((error as Error).message);
  }
  const report = await verifyTopic(
    loaded.config,
    values.topic,
    {
      ...(values.queue === undefined ? {} : { queue: values.queue }),
      ...(values.group === undefined ? {} : { group: values.group }),
      ...(expected === undefined ? {} : { expected }),
      idleMs: positive('idle-ms', values['idle-ms'], 3_000),
      maxMs: positive('max-ms', values['max-ms'], 120_000),
    },
    { logger: silentLogger, baseDir: loaded.baseDir },
  );
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ topic: values.topic, ...resolved, ...report }, null, 2)}\n`);
  } else {
    process.stdout.write(
      `topic ${values.topic} -> ${resolved.kind} target ${resolved.target}, destination ${resolved.destination}\n` +
        `${formatDeliveryReport(report)}\n`,
    );
  }
  process.exit(report.ok ? 0 : 1);
}

main().catch((error: unknown) => {
  process.stderr.write(`verify: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
