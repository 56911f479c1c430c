/**
 * What the file-based sources (jsonl, csv) share: opening with a clear error, and the fingerprint
 * the ledger compares between runs to notice that the input changed.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { notRegularKind } from './file-kind.js';
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

/**
 * Opens `path` for reading, with its size now; a missing file, a directory or a permission problem
 * becomes `SOURCE_UNREADABLE`.
 */
export async function openSourceFile(kind: string, path: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, OPEN_FLAGS);
    const stats = await handle.stat();
    checkRegular(path, stats);
    return { handle, size: stats.size };
  } catch (error) {
    await handle?.close();
    throw unreadable(kind, path, error);
  }
}

/**
 * SOURCE_DRIFT for a file source whose file changed while this run read it (`what`: how). Records
 * read after such a change may be another file's: the run stops rather than end as if complete.
 */
export function changedWhileRead(description: string, what: string): SourceError {
  return new SourceError(
    'SOURCE_DRIFT',
    `the source ${description} changed while this run read it: ${what} (truncated, or rewritten in place as \`> file\` does). ` +
      'The outcomes of the records read before are saved; the next run finds the change as drift between runs (see --accept-drift)',
  );
}

/**
 * Throws {@link changedWhileRead} when the file of `handle` is now smaller than it was when opened
 * (`sizeAtOpen`): checked at the end of the file, before its last line is handed out, which a
 * truncation may have cut in two.
 */
export async function checkNotShrunk(handle: FileHandle, description: string, sizeAtOpen: number): Promise<void> {
  const { size } = await handle.stat();
  if (size < sizeAtOpen) throw changedWhileRead(description, `it shrank from ${sizeAtOpen} to ${size} bytes`);
}

/**
 * Read-only, and without blocking at the open: opening a named pipe for reading would wait for a
 * writer, for ever if none comes, before `checkRegular` could refuse it. No effect on a regular file.
 */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * Throws unless `stats` are a regular file's: Linux opens a directory for reading (the clear message
 * here instead of EISDIR at the first read), and a named pipe, a socket or a device is a stream that
 * cannot be read again at an offset, as a resume and the source's checks do.
 */
function checkRegular(path: string, stats: Stats): void {
  if (stats.isDirectory()) {
    throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${path}'`), { code: 'EISDIR', syscall: 'open' });
  }
  const what = notRegularKind(stats);
  if (what === undefined) return;
  throw new Error(
    `it is ${what}, not a regular file: a file source is read again to resume and to check it, which a stream cannot be; ` +
      'write the stream to a file first, or pass the records as an (async) iterable (docs/jobs.md)',
  );
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

/**
 * Opens `path` for reading, synchronously, as {@link openSourceFile} does (same errors). The
 * fingerprint and the samples below read a few KB once per run or per commit: with a file handle
 * each open, stat, read and close is a round trip through libuv's thread pool, ~14 a run, on the
 * critical path of its start and its last commit.
 */
function openSourceFileSync(kind: string, path: string): { fd: number; size: number; mtimeMs: number } {
  let fd: number | undefined;
  try {
    fd = openSync(path, OPEN_FLAGS);
    const stats = fstatSync(fd);
    checkRegular(path, stats);
    return { fd, size: stats.size, mtimeMs: stats.mtimeMs };
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    throw unreadable(kind, path, error);
  }
}

/** Reads up to `length` bytes at `position` of `fd`; fewer only at the end of the file. */
function readAtSync(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const bytesRead = readSync(fd, buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/** Calls `read` with the opened file, wrapping a system error as unreadable, and closes it. */
function withSourceFile<R>(kind: string, path: string, read: (file: { fd: number; size: number; mtimeMs: number }) => R): R {
  const file = openSourceFileSync(kind, path);
  try {
    return read(file);
  } catch (error) {
    throw error instanceof SourceError ? error : unreadable(kind, path, error);
  } finally {
    closeSync(file.fd);
  }
}

/** Size, mtime, the resolved path and a SHA-1 of the first {@link SAMPLE_BYTES} bytes of the file at `path`. */
export async function fingerprintFile(kind: string, path: string, description: string): Promise<SourceFingerprint> {
  return withSourceFile(kind, path, ({ fd, size, mtimeMs }) => {
    const sampleHash = hashHead(fd, SAMPLE_BYTES);
    let resolved: string;
    try {
      resolved = realpathSync.native(path);
    } catch {
      resolved = resolve(path);
    }
    return { description, size, mtimeMs, sampleHash, path: resolved };
  });
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
  return withSourceFile(kind, path, ({ fd }) => {
    const from = Math.max(0, offset - RESUME_SAMPLE_BYTES);
    const read = readAtSync(fd, from, offset - from + RESUME_SAMPLE_BYTES);
    // Up to the end of the line at `offset`: bytes appended after the last record are not a change.
    const newline = read.indexOf(10, offset - from);
    const bytes = newline === -1 ? read : read.subarray(0, newline + 1);
    return { offset, hash: createHash('sha1').update(bytes).digest('hex') };
  });
}

function hashHead(fd: number, length: number): string {
  return createHash('sha1')
    .update(readAtSync(fd, 0, Math.min(length, SAMPLE_BYTES)))
    .digest('hex');
}

/** The `sampleHash` the file would have had if it had been `length` bytes long. */
export async function fileHeadHash(kind: string, path: string, length: number): Promise<string> {
  return withSourceFile(kind, path, ({ fd }) => hashHead(fd, length));
}
