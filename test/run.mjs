#!/usr/bin/env node
// The test command: brings up every broker the suites need (Kafka and RocketMQ from Maven Central,
// the machine's RabbitMQ, PostgreSQL and Redis), then runs every *.test.ts with node's test runner.
//   node test/run.mjs            all suites, brokers included (what CI runs)
//   node test/run.mjs --unit     only the suites that need no external broker
//   node test/run.mjs <files>    just those files (brokers are brought up if a file needs them)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const explicit = args.filter((a) => !a.startsWith('--'));

/** Suites that talk to an external broker live here or are named *.broker.test.ts. */
const BROKER_SUITES = [/^test\/contract\//, /^test\/brokers\//, /\.broker\.test\.ts$/];
const FAULT_SUITES = [/^test\/fault\//];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else if (name.endsWith('.test.ts')) out.push(path.relative(root, full).split(path.sep).join('/'));
  }
  return out;
}

let files =
  explicit.length > 0
    ? explicit
    : ['gateway', 'adapters', 'policies', 'openapi', 'test'].flatMap((d) => walk(path.join(root, d))).sort();
files = files.filter((f) => !FAULT_SUITES.some((r) => r.test(f)) || explicit.includes(f));
if (unitOnly) files = files.filter((f) => !BROKER_SUITES.some((r) => r.test(f)));

const needsBrokers = files.some((f) => BROKER_SUITES.some((r) => r.test(f)));
if (needsBrokers) {
  console.log('Bringing up brokers (npm run brokers:up) ...');
  const up = spawnSync(process.execPath, ['--import', 'tsx', 'deploy/local/cli.ts', 'up'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (up.status !== 0) {
    console.error(
      '\nA broker could not be started (see above for which one and why); the broker suites cannot run.',
    );
    process.exit(up.status ?? 1);
  }
}

console.log(`Running ${files.length} test files${unitOnly ? ' (unit only)' : ''} ...`);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
