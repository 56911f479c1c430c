/**
 * Everything a run needs before it reads its first record, built after `ledger.begin()`: where to
 * resume (or which records a re-run redoes), the keys already seen, what the ledger knows of
 * dependencies, the open output, the group commit and the crash guard. The run is then built from
 * these parts, all of them present.
 */
import { isPositionKey } from '../domain/unusable-record.js';
import type { Job } from '../job.js';
import type { Ledger, RecordKeys, ResumeState } from '../ledger/ledger.js';
import type { LeaseWaiting } from '../ledger/lease.js';
import type { DependencyTracker } from '../graph/dependency-tracker.js';
import type { RecordReader, SourceFingerprint } from '../sources/source.js';
import { Checkpointer } from './checkpointer.js';
import { CrashGuard } from './crash-guard.js';
import { loadDependencies } from './dependency-gate.js';
import { isDone, type OpenRecord } from './open-record.js';
import { recordedFailures, rerunPlan } from './rerun-plan.js';
import type { ResolvedRunOptions } from './run-options.js';
import { rerunSelector, resumeSelector, type Selector } from './selector.js';
import { settleDrift, sourceNow } from './source-check.js';

/** The parts of a run that exist once its ledger has begun it. */
export interface RunParts {
  readonly runId: string;
  readonly ledger: Ledger;
  readonly resume: ResumeState;
  readonly selector: Selector;
  /** Records a re-run selected, for the `run:started` event. */
  readonly rerunSelected: number | undefined;
  /** A re-run's record: the group of the failure it was selected for (rerun-plan.ts's recordedFailures). */
  readonly recordedFailure: ((seq: number) => string | undefined) | undefined;
  /** Every key read, to fail a repeated key and to find dependencies (not kept by a plain re-run). */
  readonly keys: RecordKeys | undefined;
  /** What the ledger knows of dependencies, when the job has `dependsOn`. */
  readonly dependencies: DependencyTracker<OpenRecord> | undefined;
  /** Reads a waiting record again, when the job has `dependsOn` and its source can (the gate closes it). */
  readonly recordReader: RecordReader<unknown> | undefined;
  readonly checkpointer: Checkpointer;
  readonly crashGuard: CrashGuard<OpenRecord>;
  /** Set when accepted drift moved the recorded outcomes: said in the summary's warnings. */
  readonly driftNote: string | undefined;
  /**
   * The source's fingerprint as the run began: its size (with the first records' offsets it
   * estimates the record count), checked again at the source's end (source-check.ts `checkUnchangedSince`).
   */
  readonly fingerprint: SourceFingerprint | undefined;
}

/** Begins the run in the ledger (which refuses a run it cannot resume) and returns where to resume. */
export async function beginRun(
  job: Job<any, any>,
  options: ResolvedRunOptions,
  runId: string,
  ledger: Ledger,
  fingerprint: SourceFingerprint | undefined,
  waiting: LeaseWaiting,
): Promise<ResumeState> {
  return ledger.begin({
    runId,
    job: job.name,
    fingerprint,
    acceptDrift: options.acceptDrift,
    takeOver: options.takeOver,
    waiting,
    ...(await sourceNow(job, ledger, fingerprint)),
    options: {
      concurrency: options.concurrency,
      maxFailureRate: options.maxFailureRate,
      rerun: options.rerun ?? null,
      deadline: options.deadline,
      pid: process.pid,
    },
  });
}

/** Builds the parts of a begun run; `signal` aborts reading the source to match drifted outcomes. */
export async function prepareRun(
  job: Job<any, any>,
  options: ResolvedRunOptions,
  runId: string,
  ledger: Ledger,
  begun: ResumeState,
  fingerprint: SourceFingerprint | undefined,
  signal: AbortSignal,
): Promise<RunParts> {
  const { resume, remapped } = await settleDrift(job, ledger, runId, begun, fingerprint, options.acceptDrift, signal);
  const fixed = ledger.rerunSelection?.();
  const plan = !options.rerun ? undefined : fixed !== undefined ? { rows: fixed, keys: undefined } : await rerunPlan(ledger, options.rerun);
  const selector = plan ? rerunSelector(job, plan, job.source.seekable) : resumeSelector(resume);
  // A re-run keeps no key index, but for a record stored under its position (it had no usable key):
  // the key it has now may repeat another record's, which must fail it again, not run it.
  const keyless = plan?.rows.some((row) => isPositionKey(row.key)) === true;
  const keys = !options.rerun || job.dependsOn || keyless ? await ledger.keys() : undefined;
  const recordReader = job.dependsOn && keys ? await job.source.openReader?.() : undefined;
  const dependencies =
    job.dependsOn && keys
      ? await loadDependencies(job, ledger, keys, new Set(plan?.rows.map((row) => row.seq) ?? []), recordReader)
      : undefined;
  await job.output?.open(resume.outputState, { ledger: ledger.location, job: job.name });
  const checkpointer = new Checkpointer(
    ledger,
    runId,
    job.checkpoint.everyRecords,
    job.output,
    selector.successesAsRows,
    options.clock,
    (offset) => job.source.sampleAt?.(offset) ?? Promise.resolve(undefined),
  );
  // The output's claim and its empty length are committed before its first line is written:
  // a crash before the first batch then cuts the file back on resume, instead of leaving bytes
  // that no commit accounts for (which would refuse every later run).
  if (job.output && resume.outputState === undefined) await checkpointer.commit(undefined, 0, false);
  return {
    runId,
    ledger,
    resume,
    selector,
    rerunSelected: plan?.rows.length,
    recordedFailure: plan && recordedFailures(plan.rows),
    keys,
    dependencies,
    recordReader,
    checkpointer,
    crashGuard: new CrashGuard<OpenRecord>(resume.crashes, ledger, options.concurrency, job.maxCrashes, isDone),
    driftNote: remapped ? `the source changed (${remapped}); the recorded outcomes now follow their records by key` : undefined,
    fingerprint,
  };
}
