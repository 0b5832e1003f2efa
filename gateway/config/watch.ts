/**
 * Notices when the config file changes, for live reload. Watches the file's directory rather than
 * the file: editors and `cp`/`mv`-style deploys (and Kubernetes ConfigMap updates, which swap a
 * symlink) replace the file, and a watch on the old inode would go quiet. Events are debounced and
 * the content compared, so a save that changes nothing, or the several events one write causes,
 * trigger at most one reload.
 */
import { createHash } from 'node:crypto';
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';

export interface ConfigWatcher {
  close(): void;
}

export interface ConfigWatcherOptions {
  /** Quiet time after the last event before the file is read. Default 250 ms. */
  readonly debounceMs?: number;
  /** Also re-read every this many ms (fs.watch misses events on some network filesystems). Default 0 (off). */
  readonly pollMs?: number;
  readonly onError?: (error: Error) => void;
}

function digest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined; // missing for a moment while it is replaced; the next event reads it again
  }
}

export function watchConfigFile(
  file: string,
  onChange: () => void,
  options: ConfigWatcherOptions = {},
): ConfigWatcher {
  const debounceMs = options.debounceMs ?? 250;
  const absolute = path.resolve(file);
  let last = digest(absolute);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const check = () => {
    timer = undefined;
    if (closed) return;
    const current = digest(absolute);
    if (current === undefined || current === last) return;
    last = current;
    onChange();
  };
  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(check, debounceMs);
    timer.unref();
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(absolute), { persistent: false }, (_event, name) => {
      if (name === null || name === path.basename(absolute) || name.startsWith('..')) schedule();
    });
    watcher.on('error', (error) => options.onError?.(error));
  } catch (error) {
    options.onError?.(error as Error);
  }
  const poll = options.pollMs ? setInterval(schedule, options.pollMs) : undefined;
  poll?.unref();

  return {
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      watcher?.close();
    },
  };
}
