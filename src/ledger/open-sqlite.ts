/**
 * The public way to open a SQLite ledger file from code (`batchguard/sqlite`). It returns the `Ledger`
 * interface, not the SQLite class: the published type declarations must not mention
 * better-sqlite3's types, which a user's project does not have (`@types/better-sqlite3` is a
 * development dependency of batchguard only).
 */
import type { Ledger } from './ledger.js';
import { openSqliteLedgerFile as openSqlite } from './sqlite/open-sqlite-ledger.js';

/** Opens (creating if needed) the SQLite ledger file at `path`. Throws `LedgerError` when it cannot. */
export function openSqliteLedger(path: string): Ledger {
  return openSqlite(path);
}
