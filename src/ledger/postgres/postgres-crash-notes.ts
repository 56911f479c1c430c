/**
 * Crash quarantine's side of the PostgreSQL ledger: its storage, the job's `in_flight` note and
 * `crash_suspects` rows. The rules are ../crash-evidence.ts's.
 */
import { noteSeqs, suspectFromRow, suspectsAfterCrash, suspectToRow } from '../crash-evidence.js';
import type { CrashEvidence, CrashSuspect, InFlightNote } from '../ledger.js';
import type { MetaBuffer } from './meta-buffer.js';
import type { PgDb, Query } from './pg-db.js';
import type { PostgresLease } from './postgres-lease.js';
import { CRASH_NOTE_KEY as NOTE_KEY, crashSql } from './sql/crash-suspects.js';
import { metaSql } from './sql/meta.js';

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

  /** Forgets the note in `meta`, the job's meta rows as they are written with a new run's start (a clean end left none). */
  clearIn(meta: MetaBuffer): void {
    if (meta.get(NOTE_KEY) !== undefined) meta.remove(NOTE_KEY);
  }

  /** Forgets the note: the dead run's, once turned into evidence. */
  private async clear(query: Query): Promise<void> {
    await query(this.meta.remove, [this.jobId(), [NOTE_KEY]]);
  }

  /** Turns the note a dead run left into evidence (in the caller's transaction) and clears it. */
  async recordCrash(query: Query, crashedRunId: string): Promise<void> {
    const { rows } = await query(this.meta.get, [this.jobId(), NOTE_KEY]);
    await this.clear(query);
    const text = rows[0]?.value;
    if (typeof text !== 'string') return;
    const note = JSON.parse(text) as InFlightNote;
    const seqs = [...noteSeqs(note)];
    const finished = new Set((await query(this.sql.finishedOf, [this.jobId(), seqs, crashedRunId])).rows.map((row) => Number(row.s)));
    const old = await this.suspects(query);
    const suspects = suspectsAfterCrash(
      note,
      crashedRunId,
      (seq) => finished.has(seq),
      (seq) => old.get(seq),
    );
    await this.store(query, suspects);
    await this.load(query);
  }

  /** Every suspect (a few hundred at most per crash: see engine/crash-guard.ts). */
  async evidence(query: Query): Promise<CrashEvidence> {
    return { suspects: await this.suspects(query) };
  }

  private async suspects(query: Query): Promise<Map<number, CrashSuspect>> {
    const suspects = new Map<number, CrashSuspect>();
    for (const row of (await query(this.sql.all, [this.jobId()])).rows) suspects.set(Number(row.seq), suspectFromRow(row));
    return suspects;
  }

  /** Stores `suspects` (one statement), replacing what was stored for the same records. */
  private async store(query: Query, suspects: ReadonlyMap<number, CrashSuspect>): Promise<void> {
    if (suspects.size === 0) return;
    const rows = [...suspects].map(([seq, suspect]) => suspectToRow(seq, suspect));
    await query(this.sql.upsert, [
      this.jobId(),
      rows.map((row) => row.seq),
      rows.map((row) => row.group_size),
      rows.map((row) => row.alone_crashes),
      rows.map((row) => row.run_ids),
    ]);
  }

  /** Whether suspects are stored: a commit deletes its records from them (write-commit.ts) only then. */
  get anyStored(): boolean {
    return this.suspectCount > 0;
  }

  /** A commit gave `count` suspects an outcome and deleted them (a quarantined one keeps its evidence). */
  cleared(count: number): void {
    this.suspectCount -= count;
  }

  /** The source changed and its records moved: suspects follow their records (one that is gone is forgotten). */
  async remap(query: Query, newSeqOf: (seq: number) => number): Promise<void> {
    const old = await this.suspects(query);
    await query(this.sql.deleteAll, [this.jobId()]);
    const moved = new Map<number, CrashSuspect>();
    for (const [seq, suspect] of old) {
      const to = newSeqOf(seq);
      if (to >= 0) moved.set(to, suspect);
    }
    await this.store(query, moved);
    await this.load(query);
  }
}
