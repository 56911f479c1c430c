/**
 * What the file-based sources (jsonl, csv) share: opening with a clear error, and the fingerprint
 * the ledger compares between runs to notice that the input changed.
 */
import { createHash } from 'node:crypto';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SourceError } from '../errors.js';
import type { SourceFingerprint, SourceSample } from './source.js';

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

/** Size, mtime, the resolved path and a SHA-1 of the first {@link SAMPLE_BYTES} bytes of the file at `path`. */
export async function fingerprintFile(kind: string, path: string, description: string): Promise<SourceFingerprint> {
  const handle = await openSourceFile(kind, path);
  try {
    const stats = await handle.stat();
    const sampleHash = await hashHead(handle, SAMPLE_BYTES);
    const resolved = await realpath(path).catch(() => resolve(path));
    return { description, size: stats.size, mtimeMs: stats.mtimeMs, sampleHash, path: resolved };
  } catch (error) {
    throw error instanceof SourceError ? error : unreadable(kind, path, error);
  } finally {
    await handle.close();
  }
}

/**
 * Bytes hashed on each side of a resume point by {@link sampleFileAt}: the end of the last records
 * done and the start of the next ones. A few records' worth, read once per sample.
 */
export const RESUME_SAMPLE_BYTES = 2048;

/**
 * A SHA-1 of the {@link RESUME_SAMPLE_BYTES} bytes before `offset` and of the line that starts
 * there (at most as many bytes again; fewer at either end of the file).
 */
export async function sampleFileAt(kind: string, path: string, offset: number): Promise<SourceSample> {
  const handle = await openSourceFile(kind, path);
  try {
    const from = Math.max(0, offset - RESUME_SAMPLE_BYTES);
    const read = await readAt(handle, from, offset - from + RESUME_SAMPLE_BYTES);
    // Up to the end of the line at `offset`: bytes appended after the last record are not a change.
    const newline = read.indexOf(10, offset - from);
    const bytes = newline === -1 ? read : read.subarray(0, newline + 1);
    return { offset, hash: createHash('sha1').update(bytes).digest('hex') };
  } catch (error) {
    throw error instanceof SourceError ? error : unreadable(kind, path, error);
  } finally {
    await handle.close();
  }
}

async function hashHead(handle: FileHandle, length: number): Promise<string> {
  return createHash('sha1')
    .update(await readAt(handle, 0, Math.min(length, SAMPLE_BYTES)))
    .digest('hex');
}

/** The `sampleHash` the file would have had if it had been `length` bytes long. */
export async function fileHeadHash(kind: string, path: string, length: number): Promise<string> {
  const handle = await openSourceFile(kind, path);
  try {
    return await hashHead(handle, length);
  } catch (error) {
    throw error instanceof SourceError ? error : unreadable(kind, path, error);
  } finally {
    await handle.close();
  }
}
