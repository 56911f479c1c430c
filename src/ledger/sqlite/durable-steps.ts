/**
 * Durable steps (`ctx.step`) in the SQLite ledger: one row per completed step of a record, keyed by
 * the record's key and the step's name, holding its result as JSON. Written at once in its own
 * small transaction (not group-committed): the row must be stored before the handler goes on to
 * the next side effect, since a crash after the step is exactly what it protects against.
 */
import type Database from 'better-sqlite3';
import type { StoredStep } from '../ledger.js';

export const STEPS_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS steps (
  key          TEXT NOT NULL,
  name         TEXT NOT NULL,
  result       TEXT,
  run_id       TEXT NOT NULL,
  completed_at TEXT NOT NULL,
  PRIMARY KEY (key, name)
);
`;

export class DurableSteps {
  // Prepared when first used: a read-only connection to a ledger written before steps existed has no such table.
  private selectAll: Database.Statement | undefined;
  private upsert: Database.Statement | undefined;

  constructor(private readonly db: Database.Database) {}

  /** The completed steps of `key`, by name. */
  of(key: string): ReadonlyMap<string, StoredStep> {
    if (this.selectAll === undefined) {
      if (this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'steps'").get() === undefined) return new Map();
      this.selectAll = this.db.prepare('SELECT name, result FROM steps WHERE key = ?');
    }
    const rows = this.selectAll.all(key) as { name: string; result: string | null }[];
    return new Map(rows.map((row) => [row.name, row.result === null ? {} : { result: row.result }]));
  }

  /** Called inside a transaction that checked the lease. */
  save(runId: string, key: string, name: string, result: string | undefined): void {
    this.upsert ??= this.db.prepare(
      `INSERT INTO steps (key, name, result, run_id, completed_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (key, name) DO UPDATE SET result = excluded.result, run_id = excluded.run_id, completed_at = excluded.completed_at`,
    );
    this.upsert.run(key, name, result ?? null, runId, new Date().toISOString());
  }
}
