/**
 * The ledger: the durable store of every record's latest state, the runs, and the checkpoint.
 *
 * Successes are stored as ranges of sequence numbers (one row per contiguous run of successes),
 * everything else as one row per record. That is what keeps the ledger off the hot path: a batch of
 * 1000 no-op successes is one range row, not 1000 rows (see docs/architecture.md for the figures).
 * A record is in at most one of the two: a range holds only first-time successes of `run`; a record
 * that has a row keeps its row when a re-run later succeeds.
 */
import type { SerializedError } from '../policy/serialize-error.js';
import type { SourceFingerprint, SourcePosition, SourceSample } from '../sources/source.js';
import type { AttemptRecord } from '../domain/outcome.js';
import type { FailureKind, RecordStatus } from '../domain/status.js';
import type { KeyOwner } from '../structures/key-index.js';
import type { ActiveSharedRun } from './worker-ledger.js';
import type { LeaseWaiting } from './lease.js';

export { FailureKind, RecordStatus } from '../domain/status.js';
export type { AttemptRecord } from '../domain/outcome.js';
export type { KeyOwner } from '../structures/key-index.js';

/** A record outcome that is stored as a row (a failure, a skip, or a re-run's success). */
export interface RecordRow {
  readonly seq: number;
  readonly key: string;
  readonly status: RecordStatus;
  readonly kind?: FailureKind;
  readonly attempts: number;
  readonly error?: SerializedError;
  /** The failure's group (see policy/fingerprint.ts). */
  readonly fingerprint?: string;
  /** The masked message: the second level of grouping, under the fingerprint. */
  readonly template?: string;
  /** The classification rule that decided the failure (e.g. `http-status-404`). */
  readonly rule?: string;
  /** For a skipped record: its dependency … the failed ancestor that blocked it. */
  readonly blockedBy?: readonly string[];
  /** Every attempt of the run that recorded this outcome. */
  readonly history?: readonly AttemptRecord[];
  readonly runId: string;
  readonly line?: number;
  readonly offset?: number;
  readonly updatedAt: string;
}

/**
 * The keys of the records read so far, each with the first record that had it: what fails a key
 * read twice, across runs, and resolves dependencies. The ledger keeps them: each commit stores
 * the keys added since the previous one, in a form that is the backend's business (the SQLite
 * ledger's is the `.keys` file). Memory stays flat: 16 bytes a key, never the key itself
 * (structures/key-index.ts).
 */
export interface RecordKeys {
  /**
   * Records that the record `seq` (at `line`, 0 when the source has no lines) has `key`. Returns
   * the earlier record that holds the key (a duplicate: nothing is added), or undefined. The same
   * `seq` adding its key again is no duplicate: that is a record read again after a resume.
   */
  add(key: string, seq: number, line: number): KeyOwner | undefined;
  /** The record that holds `key`, or undefined when no record read so far has it. */
  find(key: string): KeyOwner | undefined;
  /** Calls `visit` with the seq of every key held, in no particular order. */
  forEachSeq(visit: (seq: number) => void): void;
  /** Makes room for about `keys` keys at once (a hint; it never shrinks). */
  reserve(keys: number): void;
  /** How many keys are held. */
  readonly size: number;
}

/** A closed interval of sequence numbers. */
export interface SeqRange {
  readonly first: number;
  readonly last: number;
}

/** What one group commit writes, atomically. */
export interface CommitBatch {
  readonly runId: string;
  /** First-time successes, merged into ranges. */
  readonly succeeded: readonly SeqRange[];
  /** Failures and skips (and re-run outcomes), one row each; replace any earlier row of the same seq. */
  readonly rows: readonly RecordRow[];
  /** Every record before this position has an outcome; undefined leaves it as it is (re-runs). */
  readonly watermark: SourcePosition | undefined;
  /** How many records the source has yielded so far (the highest seq seen + 1). */
  readonly seen: number;
  /** True once the source has been read to its end. */
  readonly exhausted: boolean;
  /** The output sink's state after writing this batch's results (see sinks/output-sink.ts). */
  readonly outputState?: Record<string, unknown>;
  /** The bytes around the watermark, as read now, for the next resume to compare (see sources/source.ts). */
  readonly sourceSample?: SourceSample;
}

/**
 * Crash quarantine's note of what may be running (engine/crash-guard.ts). Each note replaces the
 * previous one; if the process dies, the next run turns the last note into crash suspects.
 */
export interface InFlightNote {
  /** Records started and not finished when the note was written. */
  readonly started: readonly number[];
  /** Records that may start after the note without a new one (the next reads, ready records). */
  readonly ahead: readonly SeqRange[];
  /** The `started` records are a group of suspects running by themselves (nothing else runs). */
  readonly group: boolean;
}

/** What earlier crashes say about one record. */
export interface CrashSuspect {
  /** The size of the group it runs in next; undefined: the job's concurrency. 1: alone. */
  readonly groupSize: number | undefined;
  /** How often the process died while this record ran alone. */
  readonly aloneCrashes: number;
  /** The runs that died while it ran alone. */
  readonly runIds: readonly string[];
}

/** The records that may have crashed the process (suspects), by sequence number. */
export interface CrashEvidence {
  readonly suspects: ReadonlyMap<number, CrashSuspect>;
}

/** What a run needs to resume. */
export interface ResumeState {
  /** Where to start reading; undefined on a first run. */
  readonly watermark: SourcePosition | undefined;
  /** Finished sequence numbers at or above the watermark (sorted, disjoint). */
  readonly finishedAbove: readonly SeqRange[];
  /** Records with an outcome before this run started. */
  readonly alreadyDone: number;
  /** The previous run that ended without saying so (a crash), if any. */
  readonly crashedRunId: string | undefined;
  /** The output sink's state at the last commit. */
  readonly outputState: Record<string, unknown> | undefined;
  /** Crash evidence, for quarantining records that kill the process. */
  readonly crashes: CrashEvidence;
  /**
   * Set by `begin` when the source may have changed since the ledger last read it: `certain` when
   * its size, first bytes, or the bytes at the resume point differ (then `acceptDrift` was given,
   * or `begin` would have refused); not certain when only its modification time changed. Either
   * way the engine matches the stored outcomes to the source by key before reading
   * (engine/source-check.ts).
   */
  readonly drift?: { readonly reason: string; readonly certain: boolean };
}

/**
 * What the ledger stored is matched to the source as it is now, by key (engine/source-map.ts):
 * everything a ledger needs to move its outcomes to the records' new sequence numbers.
 */
export interface SourceRemap {
  /** How many records the source has now. */
  readonly seen: number;
  /** Records with a first-time success, at their new sequence numbers. */
  readonly succeeded: readonly SeqRange[];
  /** Stored rows whose record is still in the source: its old seq and its new position. Other rows are dropped. */
  readonly moved: readonly { readonly from: number; readonly to: SourcePosition }[];
  /** The new seq of the record that had `oldSeq`, or -1 when it is no longer in the source. */
  newSeqOf(oldSeq: number): number;
  /** Every key of the source as it is now, at its new position: a set from this ledger's `newKeys`. */
  readonly keys: RecordKeys;
  /** The first record without an outcome (or the last record when all have one). */
  readonly watermark: SourcePosition | undefined;
  readonly sample: SourceSample | undefined;
}

/** What the ledger knows of the source, to check it before a run. */
export interface StoredSource {
  readonly fingerprint: SourceFingerprint | undefined;
  readonly sample: SourceSample | undefined;
}

/** The job's state across all runs. `total = succeeded + failed + skipped + pending`. */
export interface LedgerCounts {
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly pending: number;
  /** Whether a run has read the whole source (until then, `total` counts the records seen so far). */
  readonly sourceExhausted: boolean;
}

/** A failure group for the summary's `topErrors`: one cause, and the message templates under it. */
export interface ErrorGroup {
  readonly fingerprint: string;
  readonly name: string;
  /** The first failure's message. */
  readonly message: string;
  readonly code?: string;
  /** The failure kind and classification rule of the group's first failure. */
  readonly kind?: string;
  readonly rule?: string;
  readonly count: number;
  readonly sampleKeys: readonly string[];
  /** The group's most frequent message templates, largest first. */
  readonly templates: readonly TemplateGroup[];
}

/** Failures of one group that share a message template. */
export interface TemplateGroup {
  readonly template: string;
  readonly count: number;
  readonly sampleKeys: readonly string[];
}

/** One run as the ledger remembers it. */
export interface RunRecord {
  readonly runId: string;
  readonly startedAt: string;
  readonly endedAt: string | undefined;
  readonly status: string;
  readonly pid: number;
  readonly host: string;
  readonly summary: unknown;
}

/** The run that holds the ledger now, if any (pid and host are for people: the lease decides). */
export interface LeaseHolder {
  readonly runId: string;
  readonly pid: number;
  readonly host: string;
  readonly acquiredAt: string;
  /** When the lease expires unless its holder renews it (ISO time). */
  readonly expiresAt: string;
  /** The fencing token of this holder's acquisition. */
  readonly token: number;
  /**
   * The holder's process is known to be gone, its lease in force all the same: the lock it held
   * for its life is free (SQLite: the process lock on this host; PostgreSQL: its session's lock).
   * The next run takes the lease over at once, and the read commands show the run as crashed.
   */
  readonly gone?: true;
}

/**
 * One group commit of a run, as the run's timeline keeps it: when it was written and how many
 * outcomes it recorded. One small row per commit, so the report can chart a run's throughput and
 * failures over time.
 */
export interface TimelinePoint {
  /** When the commit was written (ISO time). */
  readonly at: string;
  /** Records given an outcome by this commit (succeeded, failed or skipped). */
  readonly done: number;
  /** Of those, the failed ones. */
  readonly failed: number;
}

/** A completed durable step (`ctx.step`) as stored: its result as JSON text, absent when it returned `undefined`. */
export interface StoredStep {
  readonly result?: string;
}

/** What `begin` needs to know. */
export interface RunStart {
  readonly runId: string;
  readonly job: string;
  readonly fingerprint: SourceFingerprint | undefined;
  readonly acceptDrift: boolean;
  /** The source's bytes now, at the offset of the sample the ledger stored (see `sourceState`). */
  readonly sample?: SourceSample;
  /** When the source is larger than the ledger's fingerprint says: the hash of its first bytes as that fingerprint sampled them. */
  readonly headHash?: string;
  readonly options: Record<string, unknown>;
  /** Take the ledger even from a holder whose lease has not expired (`run --take-over`). @default false */
  readonly takeOver?: boolean;
  /** Told when the run waits for another run's lease to expire; its signal ends the wait (lease.ts). */
  readonly waiting?: LeaseWaiting;
}

/** Which stored rows a failure report or a re-run selects. Every field narrows. */
export interface RowFilter {
  readonly statuses: readonly RecordStatus[];
  readonly fingerprint?: string;
  readonly kind?: FailureKind;
  readonly runId?: string;
  readonly key?: string;
  /** Only records whose sequence number is in this range (a worker's chunk of dependency components). */
  readonly seqs?: SeqRange;
}

/** A ledger backend, opened by openLedger (open-ledger.ts). Every backend passes the conformance suite (test/conformance/). */
export interface Ledger {
  /** Where it is: a file path or a connection string without its password. */
  readonly location: string;
  /**
   * Takes the ledger's lease for a run, waiting for a held lease to expire (LedgerError
   * LEDGER_LOCKED if its holder renews it meanwhile, i.e. is alive), checks the
   * source's fingerprint (SourceError SOURCE_DRIFT unless accepted), records the run and returns
   * where to resume.
   */
  begin(start: RunStart): Promise<ResumeState>;
  /** The stored fingerprint and resume-point sample of the source. */
  sourceState(): Promise<StoredSource>;
  /**
   * The records a rerun re-runs, in source order, when this ledger fixed them beforehand (a shared
   * rerun's chunk: distributed/chunk-ledger.ts); without it, the engine selects them from `rows`
   * (engine/rerun-plan.ts), as it does when this answers undefined. Asked after `begin`.
   */
  rerunSelection?(): readonly Pick<RecordRow, 'seq' | 'key' | 'line' | 'offset' | 'fingerprint'>[] | undefined;
  /**
   * Commits the engine may have on their way while it reads on: 0 (the default) makes the reader
   * wait for each commit, so a crash redoes at most one batch plus the records in flight; 1 lets it
   * read while one commit is written (a worker's chunk, docs/workers.md: at most
   * `concurrency + 2 × checkpoint.everyRecords` redone), so a commit's latency is not paid in full.
   * Asked before every record is read: it may change during a run.
   */
  readonly commitsAhead?: 0 | 1;
  /**
   * Takes the source as it is now for the reference, after the engine found by key that nothing
   * recorded moved (the source was touched, copied, or only grew); `seen` is its record count.
   */
  acceptSource(fingerprint: SourceFingerprint | undefined, sample: SourceSample | undefined, seen: number): Promise<void>;
  /** Moves every stored outcome to its record's new position, in one transaction (accepted drift). */
  applySourceMap(runId: string, fingerprint: SourceFingerprint | undefined, remap: SourceRemap): Promise<void>;
  /**
   * Writes one group of outcomes and the new watermark in one transaction, which also checks that
   * this run still holds the lease (LedgerError LEDGER_LEASE_LOST otherwise: nothing is written).
   */
  commit(batch: CommitBatch): Promise<void>;
  /**
   * Throws LEDGER_LEASE_LOST unless this run holds the lease with time to spare: asked before any
   * write outside the ledger (the output sink), which no ledger transaction can fence.
   */
  assertHeld(): Promise<void>;
  /** Records how the run ended and releases the ledger. */
  finish(runId: string, status: string, summary: unknown): Promise<void>;
  counts(): Promise<LedgerCounts>;
  topErrors(limit: number, sampleKeys: number): Promise<ErrorGroup[]>;
  runs(limit: number): Promise<RunRecord[]>;
  /** The run's commits in the order they were written (empty for an unknown run). */
  timeline(runId: string): Promise<TimelinePoint[]>;
  /** The stored rows that match, in source order. */
  rows(filter: RowFilter): AsyncIterable<RecordRow>;
  /**
   * The rows of `rows(filter)`, a page of them at a time, in the same order: what reads every
   * matching row (the run's `failures.jsonl`) takes a step of async iteration a page instead of a
   * row. Optional: `rows` is read without it.
   */
  rowPages?(filter: RowFilter): AsyncIterable<readonly RecordRow[]>;
  /** The first-time success ranges, in order. */
  succeededRanges(): AsyncIterable<SeqRange>;
  /**
   * The keys of every record read by earlier runs (after accepted drift: the source's keys at their
   * new positions), loaded anew at each call. From then on each commit of this handle stores the
   * keys added to the returned set since the previous commit; a commit that fails keeps them for
   * the next one.
   */
  keys(): Promise<RecordKeys>;
  /** An empty set of keys, sized for about `expectedKeys`, to pass as `SourceRemap.keys`. */
  newKeys(expectedKeys: number): RecordKeys;
  /**
   * Replaces the crash note. Written at once, not group-committed: it must be durable before the
   * records it covers start, since it is all the next run knows if this process dies. A backend
   * that writes asynchronously returns a promise that resolves once the note is stored (the engine
   * starts the attempts it covers after that, and writes no other note before); a backend that
   * writes before returning (SQLite) returns undefined, and throws when it could not write. A
   * commit also clears the suspects that it gives an outcome (except `crashed`).
   */
  noteInFlight(note: InFlightNote): Promise<void> | undefined;
  /**
   * The folder of a run's report files (`summary.json`, `failures.jsonl`), or undefined when the
   * ledger keeps none (the memory ledger). The SQLite ledger's is `<name>.runs/<run id>/` beside it.
   */
  reportFolder(runId: string): string | undefined;
  /**
   * Durable steps (`ctx.step(name, fn)`, engine/durable-step.ts): the completed steps of the record
   * `key`, by step name, whatever run completed them. Empty when none has completed. A step is kept
   * per record key and step name across runs (a retry, a resume and a rerun all replay it); nothing
   * removes it.
   */
  completedSteps(key: string): Promise<ReadonlyMap<string, StoredStep>>;
  /**
   * Stores a completed step of the record `key` (its `result` as JSON text, undefined when the step
   * returned undefined), replacing an earlier one of the same key and name. Written at once, not
   * group-committed, and fenced like `noteInFlight`: it resolves only once the step is durable (a
   * handler goes on to its next side effect after it), and throws LEDGER_LEASE_LOST without
   * writing when `runId` no longer holds the lease.
   */
  saveStep(runId: string, key: string, name: string, result: string | undefined): Promise<void>;
  /** Where a run would resume, without taking the ledger (for dry runs). */
  inspect(): Promise<ResumeState>;
  /** The holder whose lease is in force, or undefined (an expired lease does not count). */
  holder(): Promise<LeaseHolder | undefined>;
  /**
   * The job's running shared run (docs/workers.md), with the workers on it now (0 when every one
   * stopped or died), for `status`, `runs` and the dashboard: it goes on although no process holds
   * the lease. Only a ledger that shares runs (PostgreSQL) has it.
   */
  sharedRun?(): Promise<ActiveSharedRun | undefined>;
  /**
   * Whether the job has runs recorded here, read without creating anything (a database ledger,
   * which every other call creates on first use): a read command given a mistyped schema refuses.
   */
  hasRuns?(): Promise<boolean>;
  close(): Promise<void>;
}
