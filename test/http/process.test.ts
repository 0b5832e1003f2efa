/**
 * The gateway as a real process, started the way the README starts it: the development default
 * answers, messages survive a restart, and SIGTERM drains and exits cleanly.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/ports.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** tsx resolved from the repository, since the gateway runs in a temporary working directory. */
const TSX = import.meta.resolve('tsx');

interface Running {
  child: ChildProcess;
  url: string;
  logs: string[];
}

async function startProcess(cwd: string, port: number): Promise<Running> {
  const child = spawn(process.execPath, ['--import', TSX, path.join(root, 'gateway/main.ts')], {
    cwd,
    env: { ...process.env, PORT: String(port), PUBGATE_CONFIG: '', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) =>
    logs.push(...chunk.toString('utf8').split('\n').filter(Boolean)),
  );
  child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited early:\n${logs.join('\n')}`);
    try {
      if ((await fetch(`${url}/livez`)).ok) return { child, url, logs };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`gateway did not answer within 30 s:\n${logs.join('\n')}`);
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

const headers = { authorization: 'Bearer dev-key', 'content-type': 'application/json' };

describe('the gateway process (development default)', () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'pubgate-process-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));

  it('publishes, survives a restart with its messages, and drains on SIGTERM', async () => {
    const port = await freePort();
    const first = await startProcess(cwd, port);
    assert.ok(
      first.logs.some((line) => line.includes('development-only')),
      'the development credential must be announced in the log',
    );
    const one = await fetch(`${first.url}/v1/topics/demo.orders/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ order: 1 }),
    });
    assert.equal(one.status, 201);
    const batch = await fetch(`${first.url}/v1/topics/demo.orders/messages/batch`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ messages: [{ value: { order: 2 } }, { value: { order: 3 } }] }),
    });
    assert.equal(batch.status, 201);

    // SIGTERM with a publish in flight: the publish completes, the process exits 0.
    const inFlight = fetch(`${first.url}/v1/topics/demo.orders/messages`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ order: 4 }),
    });
    await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGTERM');
    const inFlightStatus = await inFlight.then((r) => r.status).catch(() => 0);
    assert.ok([201, 503].includes(inFlightStatus), `in-flight publish answered ${inFlightStatus}`);
    assert.equal(await exited(first.child), 0);
    assert.ok(first.logs.some((l) => l.includes('pubgate stopped')));

    const second = await startProcess(cwd, port);
    try {
      const page = (await (
        await fetch(`${second.url}/v1/topics/demo.orders/messages`, { headers })
      ).json()) as {
        messages: Array<{ value: string }>;
      };
      const orders = page.messages.map((m) => (JSON.parse(m.value) as { order: number }).order);
      assert.deepEqual(orders.slice(0, 3), [1, 2, 3]);
      assert.equal(
        orders.length,
        inFlightStatus === 201 ? 4 : 3,
        'a 201 answered before shutdown must be stored',
      );
    } finally {
      second.child.kill('SIGTERM');
      assert.equal(await exited(second.child), 0);
    }
  });

  it('refuses an invalid config file with exit code 2 and a message naming the problem', async () => {
    const child = spawn(
      process.execPath,
      ['--import', TSX, path.join(root, 'gateway/main.ts'), '--config', path.join(root, 'package.json')],
      {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    assert.equal(await exited(child), 2);
    assert.match(stderr, /invalid configuration/);
    assert.match(stderr, /brokers/);
  });
});
