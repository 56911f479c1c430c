/**
 * Crash quarantine's rules for the evidence a crash leaves (the engine's side is
 * engine/crash-guard.ts). While a run works, its ledger keeps one note of what may be in flight
 * (InFlightNote). When the next run finds that the previous one died, the note becomes evidence,
 * less the records whose outcome the dead run committed:
 *   - a crash in normal mode makes its records suspects (they run in groups at the job's concurrency);
 *   - a crash while a group ran halves that group for its members;
 *   - a crash while one record ran alone counts one crash for it (quarantine at `maxCrashes`).
 * A commit that gives a suspect an outcome (other than `crashed`) clears it.
 *
 * These are pure functions: each backend reads the note and the stored suspects, and stores what
 * they return (sqlite/crash-notes.ts, postgres/postgres-crash-notes.ts).
 */
import type { CrashSuspect, InFlightNote } from './ledger.js';

/** The records a note says may have been in flight. */
export function noteSeqs(note: InFlightNote): Set<number> {
  const seqs = new Set(note.started);
  for (const range of note.ahead) for (let seq = range.first; seq <= range.last; seq++) seqs.add(seq);
  return seqs;
}

/**
 * The evidence to store after the run `crashedRunId` died with `note` as its last note: for each
 * record of the note that the dead run did not finish (`finished`), its new evidence, given what was
 * stored before (`before`). Records whose evidence does not change are left out.
 */
export function suspectsAfterCrash(
  note: InFlightNote,
  crashedRunId: string,
  finished: (seq: number) => boolean,
  before: (seq: number) => CrashSuspect | undefined,
): Map<number, CrashSuspect> {
  const alone = note.group && note.started.length === 1;
  const halved = Math.max(1, Math.ceil(note.started.length / 2));
  const suspects = new Map<number, CrashSuspect>();
  for (const seq of noteSeqs(note)) {
    if (finished(seq)) continue;
    const old = before(seq);
    if (alone) {
      suspects.set(seq, { groupSize: 1, aloneCrashes: (old?.aloneCrashes ?? 0) + 1, runIds: [...(old?.runIds ?? []), crashedRunId] });
    } else if (note.group) {
      const groupSize = old?.groupSize === undefined ? halved : Math.min(old.groupSize, halved);
      suspects.set(seq, { groupSize, aloneCrashes: old?.aloneCrashes ?? 0, runIds: old?.runIds ?? [] });
    } else if (!old) {
      // A crash in normal mode: a suspect at the job's concurrency. An earlier suspect keeps the
      // group size its own crashes gave it.
      suspects.set(seq, { groupSize: undefined, aloneCrashes: 0, runIds: [] });
    }
  }
  return suspects;
}

/** A suspect as both backends store it: a `crash_suspects` row (no group size: NULL; the runs: JSON). */
export interface SuspectRow {
  readonly seq: number;
  readonly group_size: number | null;
  readonly alone_crashes: number;
  readonly run_ids: string;
}

/** The suspect a stored row holds (numbers may come as strings: PostgreSQL's int8). */
export function suspectFromRow(row: {
  readonly group_size?: unknown;
  readonly alone_crashes?: unknown;
  readonly run_ids?: unknown;
}): CrashSuspect {
  return {
    groupSize: row.group_size === null || row.group_size === undefined ? undefined : Number(row.group_size),
    aloneCrashes: Number(row.alone_crashes),
    runIds: JSON.parse(String(row.run_ids)) as string[],
  };
}

/** The row that stores `suspect` for the record `seq`. */
export function suspectToRow(seq: number, suspect: CrashSuspect): SuspectRow {
  return { seq, group_size: suspect.groupSize ?? null, alone_crashes: suspect.aloneCrashes, run_ids: JSON.stringify(suspect.runIds) };
}
