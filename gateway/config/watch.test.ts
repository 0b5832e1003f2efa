import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { watchConfigFile } from './watch.js';

describe('config file watcher', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pubgate-watch-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function until(predicate: () => boolean, ms = 3000) {
    const end = Date.now() + ms;
    while (!predicate() && Date.now() < end) await sleep(20);
  }

  it('reports an edit once, ignores a save without changes, and sees a file replaced by rename', async () => {
    const file = path.join(dir, 'pubgate.yaml');
    writeFileSync(file, 'a: 1\n');
    let changes = 0;
    const watcher = watchConfigFile(file, () => changes++, { debounceMs: 50 });
    try {
      writeFileSync(file, 'a: 2\n');
      writeFileSync(file, 'a: 3\n');
      await until(() => changes === 1);
      await sleep(200);
      assert.equal(changes, 1, 'two quick writes are one change');

      writeFileSync(file, 'a: 3\n');
      await sleep(300);
      assert.equal(changes, 1, 'same content is no change');

      const next = path.join(dir, 'next.yaml');
      writeFileSync(next, 'a: 4\n');
      renameSync(next, file);
      await until(() => changes === 2);
      assert.equal(changes, 2);
    } finally {
      watcher.close();
      watcher.close();
    }
  });

  it('says nothing after close()', async () => {
    const file = path.join(dir, 'closed.yaml');
    writeFileSync(file, 'a: 1\n');
    let changes = 0;
    const watcher = watchConfigFile(file, () => changes++, { debounceMs: 20 });
    watcher.close();
    writeFileSync(file, 'a: 2\n');
    await sleep(200);
    assert.equal(changes, 0);
  });
});
