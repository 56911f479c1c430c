/**
 * `batchguard/sqlite`: the SQLite ledger opened directly, for code that reads a ledger file (counts,
 * failures) or passes an opened ledger to `runJob`. The main entry's `openLedger` opens the same
 * ledger from a path; this entry exists so the main one names no backend.
 */
export { openSqliteLedger } from './ledger/open-sqlite.js';
export type { Ledger, LedgerCounts } from './ledger/ledger.js';
