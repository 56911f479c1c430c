/**
 * The ledger file itself: created private (0600 in a 0700 folder: it holds keys and error messages),
 * checked before SQLite opens it (a 0-byte or foreign file is refused rather than silently made a new
 * empty ledger), checked for damaged pages after, and watched while a run uses it (a ledger deleted
 * or replaced mid-run would otherwise take every commit with it and still report "completed").
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { FOLDER, notRegularFileAt } from '../../sources/file-kind.js';
import { LedgerError, StorageError } from '../../errors.js';
import { storageFault } from '../storage-fault.js';

const SQLITE_HEADER = 'SQLite format 3\0';

/**
 * Prepares `path` for SQLite: creates a missing ledger (and its folders) with private modes, and
 * refuses (StorageError) an existing file that is empty or not an SQLite database. Returns whether
 * the ledger is new.
 */
export function prepareLedgerFile(path: string): boolean {
  checkLedgerIsFile(path);
  try {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'wx', 0o600));
      return true;
    }
    const header = Buffer.alloc(SQLITE_HEADER.length);
    const fd = openSync(path, 'r');
    let read: number;
    try {
      read = readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
    if (read === 0) {
      throw new StorageError(
        'STORAGE_DAMAGED',
        `the ledger ${path} is empty (0 bytes): it was truncated or replaced, and everything it recorded is gone. Restore it (with its .keys file) from a backup; to start over, delete it, its .keys file and the job's output`,
        { path },
      );
    }
    if (read < header.length || header.toString('latin1') !== SQLITE_HEADER) {
      throw new StorageError(
        'STORAGE_DAMAGED',
        `the ledger ${path} is not an SQLite database (its first bytes are not an SQLite header): it was overwritten or is another file. Restore it from a backup, or pass --ledger with the right file`,
        { path },
      );
    }
    return false;
  } catch (error) {
    throw storageFault(error, path, 'opening the ledger', 'nothing was written') ?? error;
  }
}

/**
 * Throws LedgerError (LEDGER_UNUSABLE) when `path` is there but not a regular file: a folder, a named pipe (whose
 * open would wait for a writer for ever, deaf to SIGTERM), a device such as /dev/null. Nothing is
 * opened.
 */
export function checkLedgerIsFile(path: string): void {
  const what = notRegularFileAt(path);
  if (what === undefined) return;
  throw new LedgerError(
    'LEDGER_UNUSABLE',
    `the ledger ${path} is ${what}, not a file: --ledger (or the job's ledger option) names the SQLite file that keeps the job's outcomes${what === FOLDER ? `, such as ${path.replace(/\/+$/, '')}/job.sqlite` : ''}`,
  );
}

/** What keeps this process from writing a ledger: what is not writable, and whether it is a read-only mount. */
export interface NotWritable {
  readonly why: string;
  readonly readOnlyMount: boolean;
}

/**
 * What keeps this process from writing the existing ledger at `path`, or undefined when nothing
 * does: the file, or its folder (a ledger of another user, a read-only mount).
 */
export function ledgerNotWritable(path: string): NotWritable | undefined {
  return notWritable('the ledger', path) ?? folderNotWritable(path);
}

/**
 * What keeps this process from writing the folder of the ledger at `path`, where SQLite creates
 * the `-wal` and `-shm` files beside a ledger even to read it; undefined when nothing does.
 */
export function folderNotWritable(path: string): NotWritable | undefined {
  return notWritable('its folder', dirname(path));
}

function notWritable(what: string, target: string): NotWritable | undefined {
  try {
    accessSync(target, constants.W_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Not there, or not a folder on the way (ENOENT, ENOTDIR): another error says so.
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') return undefined;
    if (code === 'EROFS') return { why: `${what} ${target} is on a read-only file system`, readOnlyMount: true };
    const uid = process.getuid?.();
    return { why: `${what} ${target} is not writable by this user${uid === undefined ? '' : ` (uid ${uid})`}`, readOnlyMount: false };
  }
}

/** The LedgerError of a ledger this process cannot write, met opening it for `opening`. */
export function unwritableLedgerError(path: string, cannot: NotWritable, opening: 'reading' | 'writing', cause: unknown): LedgerError {
  const needs = opening === 'reading' ? `, and SQLite writes ${path}-wal and -shm beside a ledger even to read it` : '';
  const remedy = cannot.readOnlyMount ? 'Mount that file system read-write' : 'Run batchguard as the user who owns the ledger';
  return new LedgerError(
    'LEDGER_UNUSABLE',
    `cannot open the ledger ${path} for ${opening}: ${cannot.why}${needs}; nothing was written. ` +
      `${remedy}, or copy the ledger (with its .keys file) to a folder you can write and give that copy with --ledger`,
    { cause },
  );
}

/**
 * Removes a ledger that `prepareLedgerFile` created in this process before anything was recorded in
 * it (its creation failed half-way, e.g. on a full disk), with SQLite's side files.
 */
export function removeNewLedger(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(file, { force: true });
}

/**
 * SQLite's quick_check: every page readable and well-formed, without the index cross-checks of
 * integrity_check (bench/ledger-integrity-check.mjs measures its cost).
 */
export function checkPages(db: Database.Database, path: string): void {
  const problems = db.pragma('quick_check(3)', { simple: false }) as { quick_check: string }[];
  const found = problems.map((row) => row.quick_check.replace(/\s+/g, ' ')).filter((text) => text !== 'ok');
  if (found.length > 0) {
    throw new StorageError(
      'STORAGE_DAMAGED',
      `the ledger ${path} is damaged (SQLite's quick_check: ${found.join('; ')}); nothing was written. Restore it (with its .keys file) from a backup, or move it away to start over`,
      { path },
    );
  }
}

/** The identity of the ledger file while a run uses it. */
export class LedgerFileWatch {
  private readonly ino: number;
  private readonly dev: number;

  constructor(private readonly path: string) {
    const stat = statSync(path);
    this.ino = stat.ino;
    this.dev = stat.dev;
  }

  /** Throws StorageError when the path no longer names the file this run opened. */
  check(): void {
    let stat;
    try {
      stat = statSync(this.path);
    } catch {
      stat = undefined;
    }
    if (stat?.ino !== this.ino || stat.dev !== this.dev) {
      throw new StorageError(
        'STORAGE_DAMAGED',
        `the ledger ${this.path} was ${stat ? 'replaced' : 'deleted'} while this run used it: what this run recorded went with the old file. The run stopped; restore the ledger (with its .keys file) from a backup, or start over with a new ledger and output`,
        { path: this.path },
      );
    }
  }
}
