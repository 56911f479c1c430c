/**
 * The one way to open a ledger: `'memory'`, a SQLite file path, or a `Ledger` the caller built.
 * Nothing outside src/ledger/ opens a backend itself. It returns the `Ledger` interface, never a
 * backend class: the published type declarations must not mention better-sqlite3's types, which a
 * user's project does not have.
 */
import { DEFAULT_LEASE, type ResolvedLeaseOptions } from './lease.js';
import type { Ledger } from './ledger.js';
import { checkLedgerSpec } from './ledger-location.js';
import { MEMORY_LEDGER, openMemoryLedger } from './memory/memory-ledger.js';
import { openSqliteLedger } from './sqlite/sqlite-ledger.js';

/** Where a ledger is: `'memory'`, a SQLite file path, or a ledger opened by the caller. */
export type LedgerLocation = string | Ledger;

/** What opening a ledger needs besides its location. */
export interface LedgerContext {
  /** The run lease's expiry and renewal. @default 15 s, renewed every 5 s */
  readonly lease?: ResolvedLeaseOptions;
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
 * `postgres://…` and `:memory:` are refused with a ConfigError; a path opens (creating if needed)
 * the SQLite ledger, throwing LedgerError or StorageError when it cannot.
 */
export function openLedger(location: LedgerLocation, context: LedgerContext = {}): OpenedLedger {
  if (typeof location !== 'string') return { ledger: location, owned: false };
  const lease = context.lease ?? DEFAULT_LEASE;
  if (location === MEMORY_LEDGER) return { ledger: openMemoryLedger(lease), owned: true };
  checkLedgerSpec(location, 'ledger');
  return { ledger: openSqliteLedger(location, { lease }), owned: true };
}
