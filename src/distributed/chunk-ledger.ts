/**
 * The ledger as one chunk's run sees it. A worker runs the ordinary engine over each chunk it
 * leases, with this ledger: it begins at the chunk's start and skips what is recorded in the chunk
 * already (a worker that held it before), every commit goes through the chunk's fence (the worker
 * ledger's fenced writes) into the job's ledger under the shared run's id, and a run that read its
 * chunk to the end marks the chunk done in its last fenced transaction. Reads (counts, failures,
 * runs) are the whole job's, from the job's ledger.
 *
 * A chunk of dependency components (`members`: a job with `dependsOn`) holds every record its
 * records depend on, so the engine's dependency gate needs nothing outside it: the chunk's run
 * reads the chunk's span and skips the items of other chunks as if they were done, and a resumed
 * chunk's run is given the keys of the records already recorded in it (chunk-keys.ts).
 *
 * What a chunk's run does not have, by design for now: the duplicate-key index across the whole
 * source (each chunk's run sees its own keys only; a chunk of dependency components holds every
 * record with one of its keys), crash notes (a takeover redoes at most the dead worker's
 * uncommitted batch and in-flight records), and an output sink (run-worker.ts refuses those jobs).
 */
import type {
  CommitBatch,
  ErrorGroup,
  Ledger,
  LedgerCounts,
  RecordKeys,
  LeaseHolder,
  RecordRow,
  ResumeState,
  RowFilter,
  RunRecord,
  SeqRange,
  StoredSource,
  StoredStep,
  TimelinePoint,
} from '../ledger/ledger.js';
import { leaseLost, type FencedWrites, type HeldChunk, type LeasedChunk, type SelectedRecord } from '../ledger/worker-ledger.js';
import { FinishedSet } from '../structures/finished-set.js';
import { KeyIndex } from '../structures/key-index.js';
import type { WorkerSession } from './worker-session.js';

/** What one chunk's run needs besides the session. */
export interface ChunkLedgerContext {
  /** The job's ledger (the worker ledger's): its reads are the whole job's. */
  readonly base: Ledger;
  readonly session: WorkerSession;
  readonly lease: LeasedChunk;
  /** A chunk of dependency components: its members' keys, read from the source (chunk-keys.ts), for a resumed chunk. */
  readonly memberKeys?: () => Promise<KeyIndex>;
  /**
   * The closing of the chunk this worker ran before (its `closing`), while it is on its way:
   * resolves once it is written or its lease was lost, rejects with the database's error.
   */
  readonly previous?: Promise<void>;
}

export class ChunkLedger implements Ledger {
  /** Set once the chunk's run finished reading it and its last commit marked it done. */
  done = false;
  /**
   * The last commit of a chunk read to its end (it marks the chunk done), once it is on its way:
   * `commit` resolves without waiting for it, so that the worker leases and starts its next chunk
   * meanwhile; the worker awaits it (run-worker.ts).
   */
  closing: Promise<void> | undefined;
  /** Whether the chunk before this one, on this worker, is still closing (`context.previous`). */
  private previousClosing: boolean;
  /** Records of the chunk that a worker holding it before recorded (set by `begin`). */
  private alreadyDone = 0;
  /** What this chunk's run committed. */
  private readonly committed = { succeeded: 0, failed: 0, skipped: 0 };
  /** A rerun's chunk: its selected records that this run has not re-run yet (set by `begin`). */
  private toRerun: readonly SelectedRecord[] | undefined;
  /** A chunk of dependency components of which some records are recorded already (set by `begin`). */
  private resumed = false;
  /** A chunk of dependency components: the keys its run reads, stored with each commit (see `keys`). */
  private memberIndex: KeyIndex | undefined;

  constructor(private readonly context: ChunkLedgerContext) {
    this.previousClosing = context.previous !== undefined;
    void context.previous?.then(
      () => (this.previousClosing = false),
      () => (this.previousClosing = false),
    );
  }

  /**
   * The reader goes on while one commit is written, but not while the chunk before is closing: a
   * takeover redoes at most `concurrency + 2 × everyRecords` (docs/workers.md), whether the two
   * batches on their way are this chunk's or one of each.
   */
  get commitsAhead(): 0 | 1 {
    return this.previousClosing ? 0 : 1;
  }

  get location(): string {
    return this.context.base.location;
  }

  private get runId(): string {
    return this.context.session.run.runId;
  }

  async begin(): Promise<ResumeState> {
    const { session, lease } = this.context;
    const chunk = lease.chunk;
    if (chunk.selected !== undefined) return this.beginRerun(chunk.selected);
    const finished = await session.recordedIn(chunk.from.seq, chunk.from.seq + chunk.count - 1);
    if (chunk.members !== undefined) return this.beginMembers(chunk.members, finished);
    this.alreadyDone = finished.reduce((sum, r) => sum + r.last - r.first + 1, 0);
    return {
      watermark: chunk.from,
      finishedAbove: finished,
      alreadyDone: this.alreadyDone,
      crashedRunId: undefined,
      outputState: undefined,
      crashes: { suspects: new Map() },
    };
  }

  /**
   * A rerun's chunk: a worker that held it before re-ran some of its records (their latest outcome
   * is this run's); the rest are this run's to do. Nothing else of the chunk is touched.
   */
  private async beginRerun(selected: readonly SelectedRecord[]): Promise<ResumeState> {
    const { session, lease } = this.context;
    const done = new Set(await session.recordedByRun(selected.map((r) => r.seq)));
    this.alreadyDone = done.size;
    this.toRerun = selected.filter((r) => !done.has(r.seq));
    return {
      watermark: lease.chunk.from,
      finishedAbove: [],
      alreadyDone: done.size,
      crashedRunId: undefined,
      outputState: undefined,
      crashes: { suspects: new Map() },
    };
  }

  /**
   * A chunk of dependency components: the engine reads its span and takes what is not finished;
   * the items of other chunks in the span are given to it as finished, so it leaves them alone.
   */
  private beginMembers(members: readonly number[], finished: readonly SeqRange[]): ResumeState {
    const recorded = new FinishedSet(finished);
    const toDo = members.filter((seq) => !recorded.has(seq));
    this.resumed = toDo.length < members.length;
    this.alreadyDone = members.length - toDo.length;
    const { from, count } = this.context.lease.chunk;
    return {
      watermark: from,
      finishedAbove: complement(toDo, from.seq, from.seq + count - 1),
      alreadyDone: this.alreadyDone,
      crashedRunId: undefined,
      outputState: undefined,
      crashes: { suspects: new Map() },
    };
  }

  /** A rerun's chunk: the records its run re-runs (the engine's rerun selector picks them from the span it reads). */
  rerunSelection(): readonly SelectedRecord[] | undefined {
    return this.toRerun;
  }

  /**
   * A rerun's chunk whose run re-ran every record it had to (it ended `completed`): marks it done.
   * A rerun reads selectively, so its last commit never says the chunk was read to its end.
   */
  async finishRerun(): Promise<void> {
    const { session, lease } = this.context;
    if (this.toRerun === undefined || this.done) return;
    await session.finishChunk(lease);
    this.done = true;
  }

  sourceState(): Promise<StoredSource> {
    return Promise.resolve({ fingerprint: undefined, sample: undefined });
  }

  acceptSource(): Promise<void> {
    return Promise.resolve();
  }

  applySourceMap(): Promise<void> {
    return Promise.reject(new Error('a chunk of a shared run never maps its source by key'));
  }

  async commit(batch: CommitBatch): Promise<void> {
    const { session, lease, previous } = this.context;
    const keys = this.memberIndex?.drain();
    const write = async (writes: FencedWrites, done?: HeldChunk): Promise<void> => {
      if (keys !== undefined && keys.byteLength > 0) await writes.storeKeys(keys);
      await writes.writeOutcomes(batch, done);
    };
    // Commits land in order: this chunk's first waits for the chunk before to close (its failure is the worker's).
    await previous;
    // The engine's last commit of a chunk read to its end says `exhausted`: it closes the chunk too.
    if (batch.exhausted && !this.done && this.toRerun === undefined) {
      this.closing = session.finishChunk(lease, write).then(() => {
        this.done = true;
      });
      // Heard here; the worker awaits it and meets its error (a lost lease, or the database's).
      void this.closing.catch(() => {});
    } else await session.write([lease], (writes) => write(writes));
    for (const range of batch.succeeded) this.committed.succeeded += range.last - range.first + 1;
    for (const row of batch.rows)
      this.committed[row.status === 'succeeded' ? 'succeeded' : row.status === 'failed' ? 'failed' : 'skipped']++;
  }

  assertHeld(): Promise<void> {
    const { session, lease } = this.context;
    return session.holds(lease) || this.done ? Promise.resolve() : Promise.reject(leaseLost(this.runId, [lease.chunk.index]));
  }

  /** The shared run's end is recorded by the worker that sees it end (run-worker.ts), not per chunk. */
  finish(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The chunk's own counts as its run recorded them (the records a worker that held it before
   * recorded aside), read from nothing: the engine asks at the end of every chunk's run, for the
   * chunk's summary, which the worker does not report (it reports the run's counts itself).
   */
  counts(): Promise<LedgerCounts> {
    const { chunk } = this.context.lease;
    const { succeeded, failed, skipped } = this.committed;
    const records = chunk.selected?.length ?? chunk.members?.length ?? chunk.count;
    const pending = Math.max(0, records - this.alreadyDone - succeeded - failed - skipped);
    return Promise.resolve({ total: succeeded + failed + skipped + pending, succeeded, failed, skipped, pending, sourceExhausted: true });
  }

  /** None per chunk: the failure groups are read from the job's ledger (`failures`, `status`). */
  topErrors(): Promise<ErrorGroup[]> {
    return Promise.resolve([]);
  }

  /** None: a chunk's run is not compared with the job's earlier runs (its summary stays the worker's). */
  runs(): Promise<RunRecord[]> {
    return Promise.resolve([]);
  }

  timeline(runId: string): Promise<TimelinePoint[]> {
    return this.context.base.timeline(runId);
  }

  /**
   * The job's rows; a chunk of dependency components reads those of its span only: what its run
   * asks them for is the outcomes of the records its records depend on, which are all in it (the
   * whole job's rows, read at every chunk's start, would cost each chunk a read of every failure).
   */
  rows(filter: RowFilter): AsyncIterable<RecordRow> {
    const span = this.membersSpan();
    return this.context.base.rows(span === undefined ? filter : { ...filter, seqs: span });
  }

  /** The job's success ranges; a chunk of dependency components keeps those that reach into its span (see `rows`). */
  async *succeededRanges(): AsyncIterable<SeqRange> {
    const span = this.membersSpan();
    for await (const range of this.context.base.succeededRanges()) {
      if (span === undefined || (range.last >= span.first && range.first <= span.last)) yield range;
    }
  }

  private membersSpan(): SeqRange | undefined {
    const { chunk } = this.context.lease;
    return chunk.members === undefined ? undefined : { first: chunk.from.seq, last: chunk.from.seq + chunk.count - 1 };
  }

  /**
   * The chunk's own keys only, kept in memory for its run (see the file's comment). A chunk of
   * dependency components stores them with its commits, as a single run does, so that a later
   * single-process rerun finds the parents recorded here; a resumed one starts with its members'
   * keys (stored again by its first commit: a key stored twice is loaded once).
   *
   * A rerun's chunk (asked only when the job has `dependsOn`, or the rerun selected a record stored
   * under its position, whose key now may repeat another's) gets the job's keys, as a single rerun
   * does: its records may depend on, or repeat the key of, any record recorded before.
   */
  async keys(): Promise<RecordKeys> {
    const { lease, memberKeys, base } = this.context;
    if (lease.chunk.selected !== undefined) return base.keys();
    if (lease.chunk.members === undefined) return new KeyIndex();
    this.memberIndex = this.resumed && memberKeys !== undefined ? await memberKeys() : new KeyIndex();
    return this.memberIndex;
  }

  newKeys(expectedKeys: number): RecordKeys {
    return new KeyIndex({ expectedKeys });
  }

  completedSteps(key: string): Promise<ReadonlyMap<string, StoredStep>> {
    return this.context.base.completedSteps(key);
  }

  /** Fenced by the chunk's lease, like its commits: a worker that lost the chunk writes no step. */
  async saveStep(_runId: string, key: string, name: string, result: string | undefined): Promise<void> {
    const { session, lease } = this.context;
    await session.write([lease], (writes) => writes.saveStep(key, name, result));
  }

  noteInFlight(): undefined {
    return undefined;
  }

  reportFolder(): string | undefined {
    return undefined;
  }

  inspect(): Promise<ResumeState> {
    return this.begin();
  }

  holder(): Promise<LeaseHolder | undefined> {
    return Promise.resolve(undefined);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The ranges of `first` … `last` that hold none of `seqs` (sorted, within those bounds). */
export function complement(seqs: readonly number[], first: number, last: number): SeqRange[] {
  const ranges: SeqRange[] = [];
  let at = first;
  for (const seq of seqs) {
    if (seq > at) ranges.push({ first: at, last: seq - 1 });
    at = seq + 1;
  }
  if (at <= last) ranges.push({ first: at, last });
  return ranges;
}
