/**
 * Crash quarantine's side of the SQLite ledger: its storage. The rules are ../crash-evidence.ts's
 * (the engine's side is engine/crash-guard.ts).
 *
 * While a run works it keeps one note, `in_flight` in `meta`, replaced by each new note with a
 * plain autocommit write (it survives the process dying, which is all it is for). When the next
 * run finds that the previous one died, the note becomes evidence in `crash_suspects`.
 */
import type Database from 'better-sqlite3';
import { suspectFromRow, suspectsAfterCrash, suspectToRow, type SuspectRow } from '../crash-evidence.js';
import type { CommitBatch, CrashEvidence, CrashSuspect, InFlightNote } from '../ledger.js';

export const CRASH_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS crash_suspects (
  seq           INTEGER PRIMARY KEY,
  group_size    INTEGER,
  alone_crashes INTEGER NOT NULL,
  run_ids       TEXT NOT NULL
);
DROP TABLE IF EXISTS crash_counts;
DROP TABLE IF EXISTS crash_ranges;
`;

const NOTE_KEY = 'in_flight';
/** Notes of earlier versions (a "may have started" high-water mark, the lone careful record). */
const OLD_NOTE_KEYS = ['started_hwm', 'careful'];

export class CrashNotes {
  private readonly statements;
  /** Suspects stored: while there are none, a commit has nothing to clear. */
  private suspectCount: number;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      getNote: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setNote: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      deleteNote: db.prepare('DELETE FROM meta WHERE key = ?'),
      count: db.prepare('SELECT COUNT(*) FROM crash_suspects').pluck(),
      get: db.prepare('SELECT * FROM crash_suspects WHERE seq = ?'),
      all: db.prepare('SELECT * FROM crash_suspects'),
      upsert: db.prepare('INSERT OR REPLACE INTO crash_suspects (seq, group_size, alone_crashes, run_ids) VALUES (?, ?, ?, ?)'),
      delete: db.prepare('DELETE FROM crash_suspects WHERE seq = ?'),
      deleteRange: db.prepare('DELETE FROM crash_suspects WHERE seq BETWEEN ? AND ?'),
      rangeBelow: db.prepare('SELECT last_seq FROM succeeded_ranges WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1').pluck(),
      finishedRow: db.prepare("SELECT 1 FROM records WHERE seq = ? AND (run_id = ? OR status = 'succeeded')").pluck(),
    };
    this.suspectCount = Number(this.statements.count.get());
  }

  /** Replaces the note (a plain write: durable once it returns). */
  note(note: InFlightNote): void {
    this.statements.setNote.run(NOTE_KEY, JSON.stringify(note));
  }

  /** Forgets the note: the run ended, or a new one starts after a clean end. */
  clear(): void {
    for (const key of [NOTE_KEY, ...OLD_NOTE_KEYS]) this.statements.deleteNote.run(key);
  }

  /** Turns the note a dead run left into evidence (in the caller's transaction) and clears it. */
  recordCrash(crashedRunId: string): void {
    const text = this.statements.getNote.get(NOTE_KEY) as string | undefined;
    this.clear();
    if (text === undefined) return;
    const suspects = suspectsAfterCrash(
      JSON.parse(text) as InFlightNote,
      crashedRunId,
      (seq) => this.finishedBy(seq, crashedRunId),
      (seq) => {
        const row = this.statements.get.get(seq) as SuspectRow | undefined;
        return row && suspectFromRow(row);
      },
    );
    for (const [seq, suspect] of suspects) {
      const row = suspectToRow(seq, suspect);
      this.statements.upsert.run(row.seq, row.group_size, row.alone_crashes, row.run_ids);
    }
    this.suspectCount = Number(this.statements.count.get());
  }

  /** Whether the record's outcome is committed, so that it cannot have been in flight at the crash. */
  private finishedBy(seq: number, crashedRunId: string): boolean {
    const last = this.statements.rangeBelow.get(seq) as number | undefined;
    if (last !== undefined && last >= seq) return true;
    // A row of the dead run, or a re-run's success; an older failure may be what was being re-run.
    return this.statements.finishedRow.get(seq, crashedRunId) !== undefined;
  }

  /** Every suspect (a few hundred at most per crash: see engine/crash-guard.ts). */
  evidence(): CrashEvidence {
    const suspects = new Map<number, CrashSuspect>();
    for (const row of this.statements.all.all() as SuspectRow[]) suspects.set(row.seq, suspectFromRow(row));
    return { suspects };
  }

  /** A commit gives records an outcome: they are no longer suspects (a quarantined one keeps its evidence). */
  clearFinished(batch: CommitBatch): void {
    if (this.suspectCount === 0) return;
    let cleared = 0;
    for (const range of batch.succeeded) cleared += this.statements.deleteRange.run(range.first, range.last).changes;
    for (const row of batch.rows) {
      if (row.status === 'failed' && row.kind === 'crashed') continue;
      cleared += this.statements.delete.run(row.seq).changes;
    }
    this.suspectCount -= cleared;
  }
}

/** The source changed and its records moved: suspects follow their records (one that is gone is forgotten). */
export function remapSuspects(db: Database.Database, newSeqOf: (seq: number) => number): void {
  const rows = db.prepare('SELECT * FROM crash_suspects').all() as SuspectRow[];
  db.prepare('DELETE FROM crash_suspects').run();
  const insert = db.prepare('INSERT INTO crash_suspects (seq, group_size, alone_crashes, run_ids) VALUES (?, ?, ?, ?)');
  for (const row of rows) {
    const seq = newSeqOf(row.seq);
    if (seq >= 0) insert.run(seq, row.group_size, row.alone_crashes, row.run_ids);
  }
}
