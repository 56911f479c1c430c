import Database from 'better-sqlite3';

/** Runs `use` on a separate connection to the SQLite file at `path` (read-write unless `options` say otherwise), and closes it. */
export function withDatabase<T>(path: string, use: (db: Database.Database) => T, options?: Database.Options): T {
  const db = new Database(path, options);
  try {
    return use(db);
  } finally {
    db.close();
  }
}

/** Runs `read` on a read-only connection to the SQLite ledger file at `path`, and closes it. */
export function readLedger<T>(path: string, read: (db: Database.Database) => T): T {
  return withDatabase(path, read, { readonly: true });
}
