/**
 * The per-run timeline of the SQLite ledger: one small row per group commit (when, how many
 * outcomes, how many failures), written in the commit's own transaction. The HTML report and the
 * dashboard chart a run's throughput and failures from it. A commit is already a transaction of
 * several statements; one more insert of four values is a small share of it (docs/benchmarks.md).
 */
import type Database from 'better-sqlite3';
import type { CommitBatch, TimelinePoint } from '../ledger.js';

export const TIMELINE_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS run_timeline (
  run_id TEXT NOT NULL,
  at     TEXT NOT NULL,
  done   INTEGER NOT NULL,
  failed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS run_timeline_run ON run_timeline (run_id);
`;

export class RunTimeline {
  // Prepared when first used: a read-only connection to a ledger written before the timeline
  // existed has no such table, and must still open (its runs have no timeline).
  private insert: Database.Statement | undefined;
  private select: Database.Statement | undefined;

  constructor(private readonly db: Database.Database) {}

  /** Called inside the commit's transaction; a commit that records no outcome adds no row. */
  add(batch: CommitBatch): void {
    let done = batch.rows.length;
    for (const range of batch.succeeded) done += range.last - range.first + 1;
    if (done === 0) return;
    let failed = 0;
    for (const row of batch.rows) if (row.status === 'failed') failed += 1;
    this.insert ??= this.db.prepare('INSERT INTO run_timeline (run_id, at, done, failed) VALUES (?, ?, ?, ?)');
    this.insert.run(batch.runId, new Date().toISOString(), done, failed);
  }

  read(runId: string): TimelinePoint[] {
    if (this.select === undefined) {
      if (this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'run_timeline'").get() === undefined) return [];
      this.select = this.db.prepare('SELECT at, done, failed FROM run_timeline WHERE run_id = ? ORDER BY rowid');
    }
    return this.select.all(runId) as TimelinePoint[];
  }
}
