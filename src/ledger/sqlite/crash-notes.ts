/**
 * Crash quarantine's side of the SQLite ledger. While a run works it leaves two cheap notes (plain
 * autocommit writes: they survive the process dying, which is all they are for):
 *   - `started_hwm`: every record below it may have been started (written once per 256 records);
 *   - `careful`: the one record running alone, in careful mode (see engine/crash-guard.ts), or
 *     seq -1 between two of them.
 * When the next run finds the previous one died, the notes become evidence: an exact crash for the
 * careful record, or a suspect range [watermark, started_hwm] for a crash in normal mode.
 */
import type Database from 'better-sqlite3';
import type { CrashEvidence, SeqRange } from '../ledger.js';

export const CRASH_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS crash_counts (
  seq     INTEGER PRIMARY KEY,
  key     TEXT NOT NULL,
  count   INTEGER NOT NULL,
  run_ids TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS crash_ranges (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id    TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq  INTEGER NOT NULL
);
`;

type Meta = { get(key: string): string | undefined; set(key: string, value: string): void; remove(key: string): void };

/** Turns the notes a dead run left into crash evidence (in the caller's transaction) and clears them. */
export function recordCrash(db: Database.Database, meta: Meta, crashedRunId: string, watermarkSeq: number): void {
  const careful = meta.get('careful');
  const hwm = meta.get('started_hwm');
  if (careful !== undefined) {
    const { seq, key } = JSON.parse(careful) as { seq: number; key: string };
    // Careful mode between two lone records: nothing was running, so nothing is to blame (an
    // outside kill, say); the suspects simply stay suspects.
    if (seq < 0) {
      clearNotes(meta);
      return;
    }
    const row = db.prepare('SELECT count, run_ids FROM crash_counts WHERE seq = ?').get(seq) as { count: number; run_ids: string } | undefined;
    const runIds = row ? [...(JSON.parse(row.run_ids) as string[]), crashedRunId] : [crashedRunId];
    db.prepare('INSERT OR REPLACE INTO crash_counts (seq, key, count, run_ids) VALUES (?, ?, ?, ?)').run(seq, key, (row?.count ?? 0) + 1, JSON.stringify(runIds));
  } else if (hwm !== undefined && Number(hwm) > watermarkSeq) {
    db.prepare('INSERT INTO crash_ranges (run_id, first_seq, last_seq) VALUES (?, ?, ?)').run(crashedRunId, watermarkSeq, Number(hwm) - 1);
  }
  clearNotes(meta);
}

export function clearNotes(meta: Meta): void {
  meta.remove('careful');
  meta.remove('started_hwm');
}

/** Everything known about crashes, for the engine (small: one row per crash). */
export function readCrashEvidence(db: Database.Database): CrashEvidence {
  const ranges = db.prepare('SELECT first_seq AS first, last_seq AS last, run_id AS runId FROM crash_ranges ORDER BY id').all() as (SeqRange & { runId: string })[];
  const counts = new Map<number, { count: number; runIds: string[] }>();
  for (const row of db.prepare('SELECT seq, count, run_ids FROM crash_counts').all() as { seq: number; count: number; run_ids: string }[]) {
    counts.set(row.seq, { count: row.count, runIds: JSON.parse(row.run_ids) as string[] });
  }
  return { ranges, counts };
}
