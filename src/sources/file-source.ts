/**
 * What the file-based sources (jsonl, csv) share: opening with a clear error, and the fingerprint
 * the ledger compares between runs to notice that the input changed.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { SourceError } from '../errors.js';
import type { SourceFingerprint } from './source.js';

/**
 * Bytes hashed into `sampleHash`. A rewrite of the head of the file (a new header, reordered first
 * records) changes it; size and mtime catch the rest. Hashing the whole file would cost a full read
 * of a multi-gigabyte input before every resume.
 */
export const SAMPLE_BYTES = 64 * 1024;

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a parent of the path is not a directory',
  EMFILE: 'too many open files',
};

/** A short reason for a file-system error, e.g. `no such file (ENOENT)`. */
function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && REASONS[code] !== undefined) return `${REASONS[code]} (${code})`;
  return error instanceof Error ? error.message : String(error);
}

/** `SourceError('SOURCE_UNREADABLE')` naming the kind of source, the path and the reason; keeps the cause. */
export function unreadable(kind: string, path: string, error: unknown): SourceError {
  return new SourceError('SOURCE_UNREADABLE', `cannot read ${kind} source ${path}: ${describeFsError(error)}`, {
    cause: error,
  });
}

/** True for errors raised by the operating system (open, read, stat), which callers wrap as unreadable. */
export function isSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** Opens `path` for reading; a missing file, a directory or a permission problem becomes `SOURCE_UNREADABLE`. */
export async function openSourceFile(kind: string, path: string): Promise<FileHandle> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    // open() succeeds on a directory on Linux; failing here gives the clear message instead of EISDIR on the first read.
    if ((await handle.stat()).isDirectory()) {
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${path}'`), {
        code: 'EISDIR',
        syscall: 'open',
      });
    }
    return handle;
  } catch (error) {
    await handle?.close();
    throw unreadable(kind, path, error);
  }
}

/** Reads up to `length` bytes at `position`; fewer only at the end of the file. */
export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/** Size, mtime and a SHA-1 of the first {@link SAMPLE_BYTES} bytes of the file at `path`. */
export async function fingerprintFile(kind: string, path: string, description: string): Promise<SourceFingerprint> {
  const handle = await openSourceFile(kind, path);
  try {
    const stats = await handle.stat();
    const sample = await readAt(handle, 0, SAMPLE_BYTES);
    const sampleHash = createHash('sha1').update(sample).digest('hex');
    return { description, size: stats.size, mtimeMs: stats.mtimeMs, sampleHash };
  } catch (error) {
    throw error instanceof SourceError ? error : unreadable(kind, path, error);
  } finally {
    await handle.close();
  }
}
