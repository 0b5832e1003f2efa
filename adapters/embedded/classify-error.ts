/**
 * The one place where the embedded broker's failures (SQLite errors from better-sqlite3, and Node
 * file-system errors while preparing the directory) become AdapterErrors. Decisions read the
 * error's `code`, never its message.
 */
import Database from 'better-sqlite3';
import { AdapterError } from '../core/index.js';

/**
 * @param context what we were doing, naming the file or directory, e.g. "append to /srv/data/embedded-broker.sqlite".
 */
export function classifyError(error: unknown, context: string): AdapterError {
  if (error instanceof AdapterError) return error;
  const message = `${context}: ${error instanceof Error ? error.message : String(error)}`;
  const code = errorCode(error);

  if (error instanceof Database.SqliteError) {
    // Extended codes (SQLITE_IOERR_FSYNC, SQLITE_BUSY_SNAPSHOT, ...) share their primary code's prefix.
    const primary = code.split('_').slice(0, 2).join('_');
    switch (primary) {
      case 'SQLITE_BUSY':
      case 'SQLITE_LOCKED':
        // The statement did not run: the file is locked (by another process, since this adapter
        // opens it in exclusive mode). Nothing written; trying later may succeed.
        return new AdapterError('ADP_ERR_BACKPRESSURE', message, { cause: error });
      case 'SQLITE_FULL':
        // Disk (or quota) full. SQLite aborts the transaction before its commit record, so nothing
        // was kept. Retriable: space comes back (retention, an operator), and the caller gets a 503
        // with Retry-After rather than a permanent refusal.
        return new AdapterError('ADP_ERR_UNAVAILABLE', message, { cause: error });
      case 'SQLITE_IOERR':
        // An I/O error can strike during the commit itself (e.g. the fsync after the commit frame
        // was written): the message may be on disk after all. Retriable, and ambiguous so that the
        // reliability layer retries with the same id and drops the duplicate.
        return new AdapterError('ADP_ERR_UNAVAILABLE', message, { cause: error, ambiguous: true });
      case 'SQLITE_READONLY':
      case 'SQLITE_CANTOPEN':
      case 'SQLITE_PERM':
        // Permissions or a read-only mount: nothing written; fixable by an operator without a restart.
        return new AdapterError('ADP_ERR_UNAVAILABLE', message, { cause: error });
      default:
        // Corruption, misuse, constraint violations: unexpected; INTERNAL is retriable and ambiguous.
        return new AdapterError('ADP_ERR_INTERNAL', message, { cause: error });
    }
  }

  switch (code) {
    // Creating or opening the directory: a missing permission, a read-only file system, a file
    // where a directory should be, or a full disk. Nothing written; retriable once fixed.
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
    case 'ENOTDIR':
    case 'EEXIST':
    case 'ENOENT':
    case 'ENOSPC':
    case 'EDQUOT':
      return new AdapterError('ADP_ERR_UNAVAILABLE', message, { cause: error });
    case 'EIO':
      return new AdapterError('ADP_ERR_UNAVAILABLE', message, { cause: error, ambiguous: true });
    default:
      return new AdapterError('ADP_ERR_INTERNAL', message, { cause: error });
  }
}

function errorCode(error: unknown): string {
  if (error !== null && typeof error === 'object' && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return '';
}
