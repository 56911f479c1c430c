/**
 * The SQLite ledger's tables. `records` holds only outcomes that are not first-time successes;
 * `succeeded_ranges` holds those as closed intervals of sequence numbers (see ../ledger.ts). The lease
 * table is in sqlite-lease.ts.
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  run_id     TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  ended_at   TEXT,
  status     TEXT NOT NULL,
  pid        INTEGER NOT NULL,
  host       TEXT NOT NULL,
  options    TEXT NOT NULL,
  summary    TEXT
);
CREATE TABLE IF NOT EXISTS succeeded_ranges (
  first_seq INTEGER PRIMARY KEY,
  last_seq  INTEGER NOT NULL,
  run_id    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
  seq         INTEGER PRIMARY KEY,
  key         TEXT NOT NULL,
  status      TEXT NOT NULL,
  kind        TEXT,
  attempts    INTEGER NOT NULL,
  error       TEXT,
  fingerprint TEXT,
  rule        TEXT,
  history     TEXT,
  blocked_by  TEXT,
  run_id      TEXT NOT NULL,
  line        INTEGER,
  byte_offset INTEGER,
  updated_at  TEXT NOT NULL,
  template    TEXT
);
CREATE INDEX IF NOT EXISTS records_key ON records (key);
CREATE INDEX IF NOT EXISTS records_status ON records (status, fingerprint);
`;

/**
 * Columns added after schema 1 was released, added in place to ledgers created before them (an
 * older batchguard ignores them). `template`: a failure's masked message, the second level of
 * grouping under its fingerprint.
 */
export function addMissingColumns(db: { prepare(sql: string): { pluck(): { all(): unknown[] } }; exec(sql: string): unknown }): void {
  const columns = db.prepare("SELECT name FROM pragma_table_info('records')").pluck().all();
  if (!columns.includes('template')) db.exec('ALTER TABLE records ADD COLUMN template TEXT');
}
