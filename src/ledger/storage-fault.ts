/**
 * Tells a storage fault (a full disk, a damaged file, an I/O error) from a bug, and turns it into
 * a one-line StorageError (exit 4) that says what happened to which file and what to do.
 */
import { StorageError } from '../errors.js';

const FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'SQLITE_FULL']);
const IO = new Set(['EIO', 'EROFS', 'ENXIO', 'SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PERM']);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for errors of the disk or the file, as opposed to errors of batchguard or of the job. */
export function isStorageFault(error: unknown): boolean {
  const code = codeOf(error);
  if (code === undefined) return false;
  return (
    FULL.has(code) ||
    IO.has(code) ||
    code.startsWith('SQLITE_IOERR') ||
    code.startsWith('SQLITE_CORRUPT') ||
    code === 'SQLITE_NOTADB' ||
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_CANTOPEN')
  );
}

/**
 * The StorageError for `error` met while `doing` (e.g. "writing a commit") on `path`, or undefined
 * when it is no storage fault. `kept` says what survives (e.g. "every earlier commit is intact").
 */
export function storageFault(error: unknown, path: string, doing: string, kept: string): StorageError | undefined {
  if (error instanceof StorageError) return error;
  if (!isStorageFault(error)) return undefined;
  const code = codeOf(error) as string;
  const detail = `${(error as Error).message} (${code})`;
  if (FULL.has(code)) {
    return new StorageError(
      'STORAGE_FULL',
      `the disk is full: ${doing} ${path} failed: ${detail}; ${kept}. Free space on that disk and run again to resume`,
      { path, cause: error },
    );
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new StorageError(
      'STORAGE_DAMAGED',
      `the ledger ${path} is damaged: ${doing} it failed: ${detail}; restore it (with its .keys file) from a backup, or move it away to start over`,
      { path, cause: error },
    );
  }
  return new StorageError(
    'STORAGE_IO',
    `an I/O error: ${doing} ${path} failed: ${detail}; ${kept}. Check the disk and run again to resume`,
    { path, cause: error },
  );
}
