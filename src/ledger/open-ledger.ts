/**
 * The one way to open a ledger: `'memory'`, a SQLite file path, a `postgres://` URL (or
 * `postgres:` with the PG* environment variables), or a `Ledger` the caller built.
 * Nothing outside src/ledger/ opens a backend itself. It returns the `Ledger` interface, never a
 * backend class: the published type declarations must not mention better-sqlite3's types, which a
 * user's project does not have.
 */
import { DEFAULT_LEASE, type ResolvedLeaseOptions } from './lease.js';
import type { Ledger } from './ledger.js';
import { checkLedgerSpec } from './ledger-location.js';
import { MEMORY_LEDGER, openMemoryLedger } from './memory/memory-ledger.js';
import { openDeferredPostgresLedger } from './postgres/deferred-postgres-ledger.js';
import { checkPgSchema, isPostgresSpec } from './postgres/postgres-location.js';
import { ledgerNotWritable } from './sqlite/ledger-file.js';
import { openSqliteLedgerFile } from './sqlite/open-sqlite-ledger.js';

/** Where a ledger is: `'memory'`, a SQLite file path, a PostgreSQL URL, or a ledger opened by the caller. */
export type LedgerLocation = string | Ledger;

/** What opening a ledger needs besides its location. */
export interface LedgerContext {
  /** The run lease's expiry and renewal. @default 15 s, renewed every 5 s */
  readonly lease?: ResolvedLeaseOptions;
  /**
   * The job whose ledger it is: a PostgreSQL schema holds the ledgers of many jobs (without it, a
   * PostgreSQL ledger learns the job from the first `begin`), and a SQLite file that holds another
   * job's runs is refused. @default undefined
   */
  readonly job?: string;
  /** The PostgreSQL schema of the ledger's tables (ignored by the other backends). @default 'batchguard' */
  readonly pgSchema?: string;
}

/** An opened ledger, and whether the opener must close it (not a ledger the caller passed in). */
export interface OpenedLedger {
  readonly ledger: Ledger;
  readonly owned: boolean;
}

/** Whether `location` names the memory ledger. */
export function isMemoryLedger(location: LedgerLocation): boolean {
  return location === MEMORY_LEDGER;
}

/**
 * Opens the ledger at `location` (an absolute or already resolved path: see ledger-location.ts).
 * A `postgres:` URL opens the PostgreSQL ledger (connecting at its first call; ConfigError when
 * the optional `pg` package is not installed); `:memory:` is refused with a ConfigError; a path
 * opens (creating if needed) the SQLite ledger, throwing LedgerError or StorageError when it cannot.
 */
export function openLedger(location: LedgerLocation, context: LedgerContext = {}): OpenedLedger {
  if (typeof location !== 'string') return { ledger: location, owned: false };
  const lease = context.lease ?? DEFAULT_LEASE;
  if (location === MEMORY_LEDGER) return { ledger: openMemoryLedger(lease), owned: true };
  checkLedgerSpec(location, 'ledger');
  if (isPostgresSpec(location)) {
    return {
      ledger: openDeferredPostgresLedger(location, { job: context.job, schema: checkPgSchema(context.pgSchema, 'pgSchema'), lease }),
      owned: true,
    };
  }
  return { ledger: openSqliteLedgerFile(location, { lease, job: context.job }), owned: true };
}

/**
 * Opens an existing SQLite ledger file for reading only (the dashboard): the database refuses
 * every write on this connection, and nothing is created or migrated. Throws LedgerError when it
 * cannot. The memory ledger has nothing to read from another process and is not opened here.
 */
export function openLedgerForReading(path: string, job?: string): Ledger {
  checkLedgerSpec(path, 'ledger');
  return openSqliteLedgerFile(path, { readOnly: true, job });
}

/**
 * Opens an existing SQLite ledger for a command that only reads it (status, runs, failures, report):
 * as a run opens it (its pages checked, its tables brought up to date) when this process may write
 * it, else for reading only (a ledger of another user, whose folder this user may write).
 */
export function openLedgerToRead(path: string, job: string): Ledger {
  checkLedgerSpec(path, 'ledger');
  return openSqliteLedgerFile(path, { job, readOnly: ledgerNotWritable(path) !== undefined });
}
