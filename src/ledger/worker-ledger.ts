/**
 * The ledger as the workers of a shared run use it (`run --worker`, src/distributed/): the run's
 * plan of chunks, a lease with a fencing token per chunk, the run's shared state, and writes that
 * land in the job's ledger only while the writer still holds its chunks. The coordination
 * (src/distributed/) decides when to take, renew, write and give up; a backend stores it. Only the
 * PostgreSQL ledger implements it (ledger/postgres/workers/), opened by `openWorkerLedger`.
 */
import { LedgerError } from '../errors.js';
import type { SourcePosition } from '../sources/source.js';
import type { CommitBatch, Ledger, SeqRange } from './ledger.js';

/** One piece of a planned source: `count` items starting at `from` (whose `seq` is the chunk's first). */
export interface Chunk {
  /** 0-based, in source order. */
  readonly index: number;
  /** Where a reader starts: `from.seq` is the first sequence number of the chunk. */
  readonly from: SourcePosition;
  /** Items in the chunk (records and unparsable items alike: each has a sequence number). */
  readonly count: number;
  /**
   * A shared rerun's chunk: the records it re-runs, in source order (the items between them are
   * read and left alone). Undefined for a run's chunk, which processes every item not done yet.
   */
  readonly selected?: readonly SelectedRecord[];
  /**
   * A chunk of a run whose job has `dependsOn`: the sequence numbers of its records, in source
   * order, whole components of the dependency graph (distributed/component-chunk-plan.ts); the
   * items between them belong to other chunks. Undefined for a contiguous chunk, whose items are all its own.
   */
  readonly members?: readonly number[];
  /**
   * A chunk of dependency components (a run's `members`, or a rerun's `selected` of a job with
   * `dependsOn`) whose records lie far apart: the stretches its worker reads,
   * in order, each from one of its records to a later one; the items between two stretches (other
   * chunks' records) are not read. Undefined: the span from `from` is read whole.
   */
  readonly segments?: readonly ChunkSegment[];
}

/** A stretch of a chunk that is read in one go: `count` items from `from`. */
export interface ChunkSegment {
  readonly from: SourcePosition;
  readonly count: number;
}

/** A record a shared rerun selected when it was planned: where it is, and the key it must still have there. */
export interface SelectedRecord {
  readonly seq: number;
  readonly key: string;
  /** The group of the failure it was selected for (none for a record a failure blocked). */
  readonly fingerprint?: string;
}

/** A source split into chunks that together hold every item once, in order. */
export interface ChunkPlan {
  readonly chunks: readonly Chunk[];
  /** Items in the source: the sum of the chunks' counts. */
  readonly total: number;
}

/** A chunk this worker holds, and the token that proves it. */
export interface LeasedChunk {
  readonly chunk: Chunk;
  readonly token: number;
  /** True when another worker held it before (it died, or stopped past its lease, or stopped and gave it back). */
  readonly takenOver: boolean;
  /** Taken over from a worker that stopped and gave it back (WorkerSession.close), not one whose lease expired. */
  readonly givenBack: boolean;
}

/** A chunk as its holder knows it. */
export interface HeldChunk {
  readonly chunk: number;
  readonly token: number;
}

/** The run a worker takes part in. */
export interface JoinedRun {
  readonly runId: string;
  /** Items in the source, as planned. */
  readonly total: number;
  /** How many chunks the run was split into. */
  readonly chunks: number;
  /** True for the worker that planned it. */
  readonly planned: boolean;
}

/** What joining needs: who joins, the id a new run gets, and how to plan one. */
export interface JoinRequest {
  /** This worker's identity (random per process: see lease.ts on why not a pid). */
  readonly owner: string;
  /** The id of the run if this worker plans it. */
  readonly newRunId: string;
  readonly plan: () => Promise<ChunkPlan>;
  /** The run's options, stored with a new plan in the job's runs (as a single run's are). @default {} */
  readonly runOptions?: Record<string, unknown>;
  /**
   * A shared rerun: what it selects, as one string (rerun-chunk-plan.ts, `rerunIdentity`). A worker
   * joins a running run only when this is the same (undefined for a plain run); else it is refused.
   */
  readonly rerun?: string;
}

/** `running` until every chunk is done (`completed`) or a worker decided to abort for all (`aborted`). */
export type SharedRunStatus = 'running' | 'completed' | 'aborted';

/** The run as all its workers see it: status, the shared breaker, every worker's outcome counts, the chunks. */
export interface SharedRunState {
  readonly status: SharedRunStatus;
  readonly abortReason: string | undefined;
  readonly breaker: 'closed' | 'open';
  /** How long the shared breaker has been open, by the database's clock (0 when closed). */
  readonly breakerOpenMs: number;
  readonly breakerReason: string | undefined;
  /** The worker allowed to probe now, if any. */
  readonly probeOwner: string | undefined;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly chunksOpen: number;
  readonly chunksLeased: number;
  readonly chunksDone: number;
}

/** The job's running shared run, and the workers on it (holding a chunk's or the planning lease in force). */
export interface ActiveSharedRun {
  /** Undefined while a worker is still planning it. */
  readonly runId: string | undefined;
  /** Workers holding a chunk's lease in force (the planner, while it plans). */
  readonly workers: number;
  readonly chunks: number;
  readonly chunksDone: number;
  /** Chunks whose worker died: still leased, the lease expired unrenewed (a stopped worker gives its chunks back). */
  readonly abandoned: number;
}

/** What a worker may do inside one transaction fenced by the leases of its chunks (all of the run it was opened for). */
export interface FencedWrites {
  /**
   * One commit of a chunk's run into the job's ledger, in one statement: success ranges, rows, the
   * run's timeline point, and the outcomes added to the run's counts (this worker's row of them);
   * with `done`, the chunk's last commit, that chunk marked done in the same statement.
   */
  writeOutcomes(batch: CommitBatch, done?: HeldChunk): Promise<void>;
  /**
   * Stores record keys (16-byte entries of a key index's `drain`) with the job's keys, which a later
   * single-process run or rerun loads: a chunk of dependency components stores its records' keys,
   * so that a child re-run by one process finds its parent recorded by a worker.
   */
  storeKeys(entries: Uint8Array): Promise<void>;
  /** Stores a completed durable step (`ctx.step`) of `key`. */
  saveStep(key: string, name: string, result: string | undefined): Promise<void>;
  /** Marks a chunk done. */
  markChunkDone(chunk: HeldChunk): Promise<void>;
}

/** The shared run's storage, for one job. Every method creates what it needs on first use. */
export interface WorkerLedger {
  /** The job's own ledger: what `status`, `failures` and `runs` read, shared runs included. */
  readonly ledger: Ledger;
  /** Joins the job's running run, planning it (`request.plan`) when there is none; nobody plans twice. */
  joinRun(request: JoinRequest): Promise<JoinedRun>;
  /** The job's shared run if workers are on it now: what a single-process run must not run beside. */
  activeRun(): Promise<ActiveSharedRun | undefined>;
  /** The run's shared state now; undefined when the run is not stored. */
  runState(runId: string): Promise<SharedRunState | undefined>;
  /** Takes the next open chunk, or one whose lease expired; undefined when none can be taken now. */
  leaseChunk(runId: string, owner: string, leaseMs: number): Promise<LeasedChunk | undefined>;
  /** Renews `held`; returns the chunks whose lease was renewed (an expired lease never is: the others are lost). */
  renewLeases(runId: string, owner: string, held: readonly HeldChunk[], leaseMs: number): Promise<Set<number>>;
  /** Gives `held` back (a worker that stops): other workers take them over at once, not after their lease. */
  releaseLeases(runId: string, owner: string, held: readonly HeldChunk[]): Promise<void>;
  /**
   * The sequence numbers in `first` … `last` that already have an outcome, as sorted, disjoint
   * ranges. Read without a fence, after the lease: a takeover's lease waited for the fenced write
   * of the holder before (it locks the chunk's row), and any later write of that holder is refused.
   */
  recordedIn(first: number, last: number): Promise<SeqRange[]>;
  /** Of `seqs`, the sequence numbers whose latest outcome `runId` recorded (a shared rerun's records already re-run); read as `recordedIn`. */
  recordedByRun(runId: string, seqs: readonly number[]): Promise<number[]>;
  /**
   * Runs `write` in one transaction fenced by `held`: no other worker takes one of these chunks
   * over before it ends. Throws {@link leaseLost}, having written nothing, when any of them is no
   * longer `owner`'s.
   */
  fenced<T>(runId: string, owner: string, held: readonly HeldChunk[], write: (writes: FencedWrites) => Promise<T>): Promise<T>;
  /** Marks the run completed once every chunk is done; true for the one call that did it. */
  completeRun(runId: string): Promise<boolean>;
  /** Aborts the run for every worker; true for the call that decided it (the first reason is kept). */
  abortRun(runId: string, reason: string): Promise<boolean>;
  /**
   * Records how the run ended in the job's runs, unless an end is recorded already: every worker
   * that sees the run end calls it (the one that completed or aborted it may die before it can).
   */
  recordRunEnd(runId: string, status: string, summary: unknown): Promise<void>;
  /** Opens the shared breaker; true if this call opened it. */
  openBreaker(runId: string, reason: string): Promise<boolean>;
  /** Takes (or renews) the right to probe for `leaseMs`; false while another worker holds it. */
  claimProbe(runId: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Closes the shared breaker after `owner`'s probe succeeded; false if it does not hold the probe. */
  closeBreaker(runId: string, owner: string): Promise<boolean>;
  /** Closes the connections and the job's ledger. */
  close(): Promise<void>;
}

/** The error of a worker that lost chunks: it was stopped or cut off past its lease. */
export function leaseLost(runId: string, chunks: readonly number[], cause?: unknown): LedgerError {
  return new LedgerError(
    'LEDGER_LEASE_LOST',
    `this worker lost its lease on chunk${chunks.length === 1 ? '' : 's'} ${chunks.join(', ')} of run ${runId}: ` +
      'it was not renewed in time (the process was stopped or its connection lost), so another worker takes the chunk over. ' +
      'Nothing more was written for it by this worker',
    cause === undefined ? undefined : { cause },
  );
}
