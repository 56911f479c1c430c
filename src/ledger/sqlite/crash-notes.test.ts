import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { CommitBatch, InFlightNote } from '../ledger.js';
import { CRASH_SCHEMA_SQL, CrashNotes } from './crash-notes.js';
import { SCHEMA_SQL } from './schema.js';

function open(): { db: Database.Database; notes: CrashNotes } {
  const db = new Database(':memory:');
  db.exec(SCHEMA_SQL);
  db.exec(CRASH_SCHEMA_SQL);
  return { db, notes: new CrashNotes(db) };
}

const batch = (fields: Partial<CommitBatch>): CommitBatch => ({
  runId: 'r',
  succeeded: [],
  rows: [],
  watermark: undefined,
  seen: 0,
  exhausted: false,
  ...fields,
});

function crash(notes: CrashNotes, note: InFlightNote, runId: string): void {
  notes.note(note);
  notes.recordCrash(runId);
}

describe('CrashNotes', () => {
  it('turns a normal-mode note into suspects at the job concurrency, less what the dead run committed', () => {
    const { db, notes } = open();
    db.prepare("INSERT INTO succeeded_ranges (first_seq, last_seq, run_id) VALUES (10, 12, 'dead')").run();
    db.prepare("INSERT INTO records (seq, key, status, attempts, run_id, updated_at) VALUES (13, 'k', 'failed', 1, 'dead', 'now')").run();
    // An older failure being re-run stays a suspect.
    db.prepare("INSERT INTO records (seq, key, status, attempts, run_id, updated_at) VALUES (14, 'k', 'failed', 1, 'older', 'now')").run();
    crash(notes, { started: [3, 11], ahead: [{ first: 12, last: 15 }], group: false }, 'dead');
    expect([...notes.evidence().suspects.keys()].sort((a, b) => a - b)).toEqual([3, 14, 15]);
    expect(notes.evidence().suspects.get(3)).toEqual({ groupSize: undefined, aloneCrashes: 0, runIds: [] });
  });

  it('halves the group that was running, and counts a crash only for a record that ran alone', () => {
    const { notes } = open();
    crash(notes, { started: [1, 2, 3, 4, 5, 6, 7, 8], ahead: [], group: true }, 'a');
    expect(notes.evidence().suspects.get(5)?.groupSize).toBe(4);
    crash(notes, { started: [5, 6, 7, 8], ahead: [], group: true }, 'b');
    crash(notes, { started: [5, 6], ahead: [], group: true }, 'c');
    expect(notes.evidence().suspects.get(5)).toEqual({ groupSize: 1, aloneCrashes: 0, runIds: [] });
    crash(notes, { started: [5], ahead: [], group: true }, 'd');
    expect(notes.evidence().suspects.get(5)).toEqual({ groupSize: 1, aloneCrashes: 1, runIds: ['d'] });
    expect(notes.evidence().suspects.get(1)?.groupSize).toBe(4);
  });

  it('does not count a normal-mode crash toward quarantine (one normal crash plus two alone is two)', () => {
    const { notes } = open();
    crash(notes, { started: [7], ahead: [{ first: 8, last: 9 }], group: false }, 'normal');
    crash(notes, { started: [7], ahead: [], group: true }, 'kill1');
    crash(notes, { started: [7], ahead: [], group: true }, 'kill2');
    expect(notes.evidence().suspects.get(7)).toEqual({ groupSize: 1, aloneCrashes: 2, runIds: ['kill1', 'kill2'] });
  });

  it('blames nobody for a crash between groups, and forgets the note after a clean end', () => {
    const { notes } = open();
    crash(notes, { started: [], ahead: [], group: false }, 'idle');
    expect(notes.evidence().suspects.size).toBe(0);
    notes.note({ started: [1], ahead: [], group: true });
    notes.clear();
    notes.recordCrash('after-clean-end');
    expect(notes.evidence().suspects.size).toBe(0);
  });

  it('clears the suspects a commit gives an outcome, except a quarantined one', () => {
    const { notes } = open();
    crash(notes, { started: [1, 2, 3, 4], ahead: [], group: false }, 'a');
    const row = { key: 'k', status: 'failed' as const, attempts: 0, runId: 'r', updatedAt: 'now' };
    notes.clearFinished(
      batch({
        succeeded: [{ first: 1, last: 2 }],
        rows: [
          { ...row, seq: 3, kind: 'crashed' },
          { ...row, seq: 4, kind: 'fatal' },
        ],
      }),
    );
    expect([...notes.evidence().suspects.keys()]).toEqual([3]);
  });
});
