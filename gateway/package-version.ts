import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version in pubgate's package.json, found by walking up from this module (it is one folder
 * up from the source and two from the build output). 'unknown' when no package.json names pubgate
 * (a bundled or copied build), so a missing file never stops the gateway.
 */
export function packageVersion(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'pubgate' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // Not readable or not JSON: keep looking further up.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
