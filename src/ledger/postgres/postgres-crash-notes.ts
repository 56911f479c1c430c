/**
 * Crash quarantine's side of the PostgreSQL ledger: the rules of the SQLite ledger's
 * crash-notes.ts (which explains them), on the job's `in_flight` note and `crash_suspects` rows.
 */
import type { CommitBatch, CrashEvidence, CrashSuspect, InFlightNote } from '../ledger.js';
import type { PgDb, Query } from './pg-db.js';
import type { PostgresLease } from './postgres-lease.js';
import { crashSql } from './sql/crash-suspects.js';
import { metaSql } from './sql/meta.js';

const NOTE_KEY = 'in_flight';

export class PostgresCrashNotes {
  private readonly sql;
  private readonly meta;
  /** Suspects stored: while there are none, a commit has nothing to clear. */
  private suspectCount = 0;

  constructor(
    schema: string,
    private readonly jobId: () => number,
  ) {
    this.sql = crashSql(schema);
    this.meta = metaSql(schema);
  }

  async load(query: Query): Promise<void> {
    const { rows } = await query(this.sql.count, [this.jobId()]);
    this.suspectCount = Number(rows[0]?.n ?? 0);
  }

  /** Replaces the note with one statement that checks the lease too (durable once it returns). */
  async note(db: PgDb, lease: PostgresLease, note: InFlightNote): Promise<void> {
    const { rowCount } = await db.query(this.sql.fencedNote, [this.jobId(), lease.token, JSON.stringify(note)]);
    if (rowCount === 0) throw await lease.lostNow();
  }

  /** Forgets the note: the run ended, or a new one starts after a clean end. */
  async clear(query: Query): Promise<void> {
    await query(this.meta.remove, [this.jobId(), [NOTE_KEY]]);
  }

  /** Turns the note a dead run left into evidence (in the caller's transaction) and clears it. */
  async recordCrash(query: Query, crashedRunId: string): Promise<void> {
    const { rows } = await query(this.meta.get, [this.jobId(), NOTE_KEY]);
    await this.clear(query);
    const text = rows[0]?.value;
    if (typeof text !== 'string') return;
    const note = JSON.parse(text) as InFlightNote;
    const alone = note.group && note.started.length === 1;
    const halved = Math.max(1, Math.ceil(note.started.length / 2));
    const seqs = [...noteSeqs(note)];
    const finished = new Set((await query(this.sql.finishedOf, [this.jobId(), seqs, crashedRunId])).rows.map((row) => Number(row.s)));
    const old = await this.suspects(query);
    const update = { seq: [] as number[], groupSize: [] as (number | null)[], alone: [] as number[], runIds: [] as string[] };
    const put = (seq: number, groupSize: number | null, aloneCrashes: number, runIds: readonly string[]): void => {
      update.seq.push(seq);
      update.groupSize.push(groupSize);
      update.alone.push(aloneCrashes);
      update.runIds.push(JSON.stringify(runIds));
    };
    for (const seq of seqs) {
      if (finished.has(seq)) continue;
      const before = old.get(seq);
      if (alone) {
        put(seq, 1, (before?.aloneCrashes ?? 0) + 1, [...(before?.runIds ?? []), crashedRunId]);
      } else if (note.group) {
        const size = before?.groupSize === undefined ? halved : Math.min(before.groupSize, halved);
        put(seq, size, before?.aloneCrashes ?? 0, before?.runIds ?? []);
      } else if (!before) {
        // A crash in normal mode: a suspect at the job's concurrency. An earlier suspect keeps the
        // group size its own crashes gave it.
        put(seq, null, 0, []);
      }
    }
    if (update.seq.length > 0) await query(this.sql.upsert, [this.jobId(), update.seq, update.groupSize, update.alone, update.runIds]);
    await this.load(query);
  }

  /** Every suspect (a few hundred at most per crash: see engine/crash-guard.ts). */
  async evidence(query: Query): Promise<CrashEvidence> {
    return { suspects: await this.suspects(query) };
  }

  private async suspects(query: Query): Promise<Map<number, CrashSuspect>> {
    const suspects = new Map<number, CrashSuspect>();
    for (const row of (await query(this.sql.all, [this.jobId()])).rows) {
      suspects.set(Number(row.seq), {
        groupSize: row.group_size === null ? undefined : Number(row.group_size),
        aloneCrashes: Number(row.alone_crashes),
        runIds: JSON.parse(String(row.run_ids)) as string[],
      });
    }
    return suspects;
  }

  /** A commit gives records an outcome: they are no longer suspects (a quarantined one keeps its evidence). */
  async clearFinished(query: Query, batch: CommitBatch): Promise<void> {
    if (this.suspectCount === 0) return;
    const singles = batch.rows.filter((row) => !(row.status === 'failed' && row.kind === 'crashed')).map((row) => row.seq);
    const { rowCount } = await query(this.sql.clearFinished, [
      this.jobId(),
      batch.succeeded.map((range) => range.first),
      batch.succeeded.map((range) => range.last),
      singles,
    ]);
    this.suspectCount -= rowCount;
  }

  /** The source changed and its records moved: suspects follow their records (one that is gone is forgotten). */
  async remap(query: Query, newSeqOf: (seq: number) => number): Promise<void> {
    const old = await this.suspects(query);
    await query(this.sql.deleteAll, [this.jobId()]);
    const seq: number[] = [];
    const groupSize: (number | null)[] = [];
    const alone: number[] = [];
    const runIds: string[] = [];
    for (const [oldSeq, suspect] of old) {
      const to = newSeqOf(oldSeq);
      if (to < 0) continue;
      seq.push(to);
      groupSize.push(suspect.groupSize ?? null);
      alone.push(suspect.aloneCrashes);
      runIds.push(JSON.stringify(suspect.runIds));
    }
    if (seq.length > 0) await query(this.sql.upsert, [this.jobId(), seq, groupSize, alone, runIds]);
    await this.load(query);
  }
}

/** The records a note says may have been in flight. */
function noteSeqs(note: InFlightNote): Set<number> {
  const seqs = new Set(note.started);
  for (const range of note.ahead) for (let seq = range.first; seq <= range.last; seq++) seqs.add(seq);
  return seqs;
}
