/**
 * Opening the SQLite ledger: creating the file and its tables, or opening an existing one for
 * reading only (the dashboard), with the errors that name what went wrong.
 */
import Database from 'better-sqlite3';
import { BatchguardError, LedgerError } from '../../errors.js';
import { DEFAULT_LEASE, type ResolvedLeaseOptions } from '../lease.js';
import { storageFault } from '../storage-fault.js';
import {
  checkLedgerIsFile,
  folderNotWritable,
  ledgerNotWritable,
  prepareLedgerFile,
  removeNewLedger,
  unwritableLedgerError,
} from './ledger-file.js';
import { createSqliteDatabase, fileParts } from './ledger-parts.js';
import { loadNativeModule, nativeBinding } from './native-module.js';
import { SqliteLedger } from './sqlite-ledger.js';

/** How the ledger is opened. */
export interface SqliteLedgerOptions {
  /** The run lease's expiry and renewal. @default DEFAULT_LEASE (15 s, renewed every 5 s) */
  lease?: ResolvedLeaseOptions;
  /**
   * Open an existing ledger for reading only (the dashboard): SQLite refuses every write on this
   * connection, and nothing is created or migrated. @default false
   */
  readOnly?: boolean;
  /**
   * Keys the duplicate-key index holds in its in-memory table before it sorts them into a run beside
   * the ledger (`<ledger>.keys.sorted/`): what bounds its memory. Tests set it low to exercise runs.
   * @default 262144 (an 8 MB table)
   */
  keySpillKeys?: number;
  /**
   * The job opening it. A SQLite ledger holds one job's outcomes: a file whose runs are another
   * job's is refused (LedgerError), rather than resumed as if its records were this job's.
   * @default undefined (not checked)
   */
  job?: string;
}

/** Throws LedgerError when the ledger `db` records runs of a job other than `job`. */
function refuseOtherJob(db: Database.Database, path: string, job: string | undefined): void {
  if (job === undefined) return;
  const owner = db.prepare("SELECT value FROM meta WHERE key = 'job'").pluck().get() as string | undefined;
  if (owner === undefined || owner === job) return;
  throw new LedgerError(
    'LEDGER_UNUSABLE',
    `the ledger ${path} holds the runs of job ${JSON.stringify(owner)}, not of job ${JSON.stringify(job)}: its outcomes are that job's. ` +
      `Give job ${JSON.stringify(job)} a ledger of its own (--ledger, or the job's ledger option), or name it ${JSON.stringify(owner)} again if it was renamed`,
  );
}

function openReadOnly(path: string, options: SqliteLedgerOptions): SqliteLedger {
  loadNativeModule();
  checkLedgerIsFile(path);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000, nativeBinding: nativeBinding() });
    refuseOtherJob(db, path, options.job);
    return new SqliteLedger(db, path, options.lease ?? DEFAULT_LEASE, fileParts(path));
  } catch (error) {
    db?.close();
    if (error instanceof BatchguardError) throw error;
    const unwritable = folderNotWritable(path);
    if (unwritable !== undefined) throw unwritableLedgerError(path, unwritable, 'reading', error);
    throw new LedgerError('LEDGER_UNUSABLE', `cannot open the ledger ${path} for reading: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Opens (creating if needed) the SQLite ledger at `path`, checking its pages. Throws LedgerError or
 * StorageError (a damaged, empty or unwritable file) when it cannot.
 */
export function openSqliteLedgerFile(path: string, options: SqliteLedgerOptions = {}): SqliteLedger {
  if (options.readOnly === true) return openReadOnly(path, options);
  let db: Database.Database | undefined;
  let created = false;
  // Before anything is created: an unbuilt module must not leave an empty ledger file behind.
  loadNativeModule();
  try {
    created = prepareLedgerFile(path);
    // Before SQLite opens it: SQLite opens a file it may not write for reading only, without a word
    // (the run's first write would fail), and fails on a folder it may not write with a raw error.
    const unwritable = created ? undefined : ledgerNotWritable(path);
    if (unwritable !== undefined) throw unwritableLedgerError(path, unwritable, 'writing', undefined);
    db = createSqliteDatabase(path, created);
    refuseOtherJob(db, path, options.job);
    return new SqliteLedger(db, path, options.lease ?? DEFAULT_LEASE, { ...fileParts(path), keySpillKeys: options.keySpillKeys });
  } catch (error) {
    db?.close();
    // A ledger this call created holds nothing yet: leaving it (0 bytes after a full disk) would
    // make every later run refuse it as damaged.
    if (created) removeNewLedger(path);
    if (error instanceof BatchguardError) throw error;
    throw (
      storageFault(error, path, 'opening the ledger', 'nothing was written') ??
      new LedgerError('LEDGER_UNUSABLE', `cannot open the ledger ${path}: ${(error as Error).message}`, { cause: error })
    );
  }
}
