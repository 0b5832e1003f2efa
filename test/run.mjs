#!/usr/bin/env node
// The test command: brings up every broker the suites need (Kafka and RocketMQ from Maven Central,
// the machine's RabbitMQ, PostgreSQL, Redis and NATS), then runs every *.test.ts with node's test runner.
//   node test/run.mjs            all suites, brokers included, then the fault suite (what CI runs)
//   node test/run.mjs --unit     only the suites that need no external broker
//   node test/run.mjs --no-fault all suites but the fault suite
//   node test/run.mjs <files|dirs>  just those (brokers are brought up if one needs them)
// The fault suite (test/fault/) kills, freezes and restarts the brokers: on a shared machine run it
// under the broker lock (flock /tmp/pubgate-brokers.lock npm test). Its report is printed and
// written to test/fault/results/report.md.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const noFault = args.includes('--no-fault');
const explicitArgs = args.filter((a) => !a.startsWith('--'));

/** Suites that talk to an external broker live here or are named *.broker.test.ts. */
const BROKER_SUITES = [/^test\/contract\//, /^test\/brokers\//, /^test\/fault\//, /\.broker\.test\.ts$/];
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

const explicit = explicitArgs.flatMap((a) => {
  const full = path.resolve(root, a);
  return existsSync(full) && statSync(full).isDirectory() ? walk(full).sort() : [a];
});

let files =
  explicit.length > 0
    ? explicit
    : ['gateway', 'adapters', 'policies', 'openapi', 'test'].flatMap((d) => walk(path.join(root, d))).sort();
if (unitOnly) files = files.filter((f) => !BROKER_SUITES.some((r) => r.test(f)));
if (unitOnly || noFault) files = files.filter((f) => !FAULT_SUITES.some((r) => r.test(f)));
// The fault suite runs last, in a run of its own, once every other suite has passed or failed.
const faultFiles = files.filter((f) => FAULT_SUITES.some((r) => r.test(f)));
files = files.filter((f) => !faultFiles.includes(f));

const needsBrokers = [...files, ...faultFiles].some((f) => BROKER_SUITES.some((r) => r.test(f)));
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

/** Per test file: far above the slowest file (the broker fault suite, ~8 min), far below CI's limit. */
const TEST_TIMEOUT_MS = 25 * 60_000;

function runTests(list) {
  return (
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        '--test-concurrency=1',
        // A test that hangs fails after this long instead of holding CI until its hard limit, and a
        // file whose tests are done exits even if a failed test left a connection open.
        `--test-timeout=${TEST_TIMEOUT_MS}`,
        '--test-force-exit',
        ...list,
      ],
      { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
    ).status ?? 1
  );
}

let status = 0;
if (files.length > 0) {
  console.log(`Running ${files.length} test files${unitOnly ? ' (unit only)' : ''} ...`);
  status = runTests(files);
}
if (faultFiles.length > 0) {
  console.log(`Running the fault suite (${faultFiles.length} files) ...`);
  const report = path.join(root, 'test/fault/results/report.md');
  rmSync(report, { force: true });
  const faultStatus = runTests(faultFiles);
  if (existsSync(report)) {
    console.log(`\n${readFileSync(report, 'utf8')}`);
  }
  status = status || faultStatus;
}
process.exit(status);
