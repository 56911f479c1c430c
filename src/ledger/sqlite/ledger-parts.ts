/**
 * How a SQLite ledger's database is created, and what it keeps beside it (its parts): shared by the
 * file ledger and the memory ledger, which differ only in where the parts live.
 */
import { basename, dirname, extname, join } from 'node:path';
import Database from 'better-sqlite3';
import { nativeBinding } from './native-module.js';
import { KeyFile, type KeyStore } from './key-file.js';
import { KeyRunFiles } from './key-runs.js';
import { checkPages, LedgerFileWatch } from './ledger-file.js';
import { ProcessLock, type RunLock } from './process-lock.js';
import { addMissingColumns, SCHEMA_SQL } from './schema.js';
import { createLeaseTable } from './sqlite-lease.js';
import { CRASH_SCHEMA_SQL } from './crash-notes.js';
import { SOURCE_SCHEMA_SQL } from './sqlite-source-map.js';
import { TIMELINE_SCHEMA_SQL } from './run-timeline.js';
import { STEPS_SCHEMA_SQL } from './durable-steps.js';

/**
 * What a ledger keeps beside its database: the key store, the process lock, the check that the
 * database file is still the one opened, and where run reports go. A file ledger keeps them in files
 * next to it; the memory ledger (../memory/memory-ledger.ts) in memory.
 */
export interface LedgerParts {
  readonly keys: KeyStore;
  /** Where the key index's sorted runs are kept (`<ledger>.keys.sorted/`); undefined: in memory. */
  readonly keyRuns?: KeyRunFiles;
  /** Keys the key index's table holds before they are spilled into a run; undefined: its default (tests set it low). */
  readonly keySpillKeys?: number;
  readonly lock: RunLock;
  readonly file: { check(): void };
  /** The folder of the run reports (`<folder>/<run id>/`), or undefined: none are written. */
  readonly reportsFolder: string | undefined;
  /** Whether `close` closes the database (false when other handles share it). */
  readonly ownsDatabase: boolean;
}

/** The parts of a ledger file at `path`: `<path>.keys`, `<path>.keys.sorted/`, `<path>.lock` and `<name>.runs/` beside it. */
export function fileParts(path: string): LedgerParts {
  const name = basename(path, extname(path));
  return {
    keys: new KeyFile(`${path}.keys`),
    keyRuns: new KeyRunFiles(`${path}.keys.sorted`),
    lock: new ProcessLock(`${path}.lock`),
    file: new LedgerFileWatch(path),
    reportsFolder: join(dirname(path), `${name}.runs`),
    ownsDatabase: true,
  };
}

/** Opens the database at `path` (a file, or `:memory:`) with the ledger's tables. */
export function createSqliteDatabase(path: string, created = true): Database.Database {
  const db = new Database(path, { timeout: 5000, nativeBinding: nativeBinding() });
  try {
    if (!created) checkPages(db, path);
    // NORMAL before WAL: on a new file the switch to WAL is a rollback-journal transaction, which
    // FULL (SQLite's default) syncs once more than NORMAL; each fsync is a wait on a busy disk.
    db.pragma('synchronous = NORMAL');
    db.pragma('journal_mode = WAL');
    const createTables = (): void => {
      db.exec(SCHEMA_SQL);
      addMissingColumns(db);
      createLeaseTable(db);
      db.exec(CRASH_SCHEMA_SQL);
      db.exec(SOURCE_SCHEMA_SQL);
      db.exec(TIMELINE_SCHEMA_SQL);
      db.exec(STEPS_SCHEMA_SQL);
    };
    // A new file's tables in one transaction, one commit instead of one per statement. An existing
    // ledger has them: there each statement writes nothing, and none must take the write lock that
    // another process's run commits under.
    if (created) db.transaction(createTables).immediate();
    else createTables();
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
