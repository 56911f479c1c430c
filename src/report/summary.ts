/**
 * The summary of a run (contract section 4.4). Counts are the job's, across all runs, after this
 * run; `attempts`, `retries`, `alreadyDone` and `thisRun` describe this run.
 */
import type { RunStatus } from '../domain/status.js';
import type { ErrorGroup, LedgerCounts } from '../ledger/ledger.js';
import type { BreakerState, BreakerTripReason } from '../policy/breaker.js';
import type { Regression } from './run-history.js';

export { RunStatus } from '../domain/status.js';

export interface Summary {
  readonly schema: 1;
  readonly job: string;
  readonly runId: string;
  readonly status: RunStatus;
  /** Why the run ended as it did, in a sentence. */
  readonly reason: string;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly pending: number;
  readonly attempts: number;
  readonly retries: number;
  readonly alreadyDone: number;
  /** What this run finished. */
  readonly thisRun: { readonly succeeded: number; readonly failed: number; readonly skipped: number };
  /** failed ÷ (succeeded + failed), over the job. */
  readonly failureRate: number;
  readonly elapsedMs: number;
  readonly recordsPerSecond: number;
  readonly topErrors: readonly ErrorGroup[];
  readonly ledger: string;
  readonly sourceExhausted: boolean;
  readonly next: string | undefined;
  /** Things the user should know that are not failures (e.g. keys given to a re-run that the source lacks). */
  readonly warnings: readonly string[];
  /** Where this run's `summary.json` and `failures.jsonl` were written. */
  readonly reports: RunReportPaths | undefined;
  /** The circuit breaker: how often it opened in this run and why it last did. */
  readonly breaker: BreakerSummary;
  /** Rate limits and per-key fairness in this run, when the job uses them. */
  readonly pacing?: PacingSummary;
  /** The adaptive concurrency limit (`concurrency: { min, max }`): where it ended, how low it went. */
  readonly concurrency?: {
    readonly min: number;
    readonly max: number;
    readonly limit: number;
    readonly lowest?: number;
    readonly decreases: number;
  };
  /**
   * Where the reading of records waited, in ms: for a free slot (the handlers' pace), for the
   * ledger's commits, for crash notes, for the breaker. Absent from summaries an older batchguard saved.
   */
  readonly waits?: ReaderWaitsSummary;
  /**
   * How this run is markedly slower or fails markedly more than the job's previous runs (each also
   * in `warnings`); absent when it is not, or when there are too few comparable runs.
   */
  readonly regressions?: readonly Regression[];
}

/** Where the reading of records waited in a run, in ms (engine/reader-waits.ts). */
export interface ReaderWaitsSummary {
  /** For a free slot, a retry's room, or a rate-limit token: the handlers' pace. */
  readonly slotsMs: number;
  /** For a commit on its way to the ledger. */
  readonly ledgerMs: number;
  /** For a crash note to be stored (an asynchronous ledger's round trip). */
  readonly notesMs: number;
  /** For the breaker to let a record in. */
  readonly breakerMs: number;
  /**
   * While suspects of an earlier crash ran in groups by themselves (their commits and notes
   * included): what the crash cost this resume.
   */
  readonly groupsMs: number;
}

export interface PacingSummary {
  /** Token buckets: waits they caused, tokens left, keys paused by a Retry-After. */
  readonly rateLimit?: unknown;
  /** Fairness keys that had records waiting for a free per-key slot when the run ended. */
  readonly saturatedKeys?: readonly string[];
}

export interface BreakerSummary {
  /** Where the breaker stood when the run ended. */
  readonly state: BreakerState;
  /** How often it opened in this run. */
  readonly trips: number;
  readonly lastTrip?: {
    readonly reason: BreakerTripReason;
    readonly description: string;
    readonly error?: { readonly name: string; readonly message: string };
  };
  /** Retries the retry budget held back (each waited and asked again). */
  readonly retriesDeferred: number;
  /**
   * Attempts given back when the breaker closed: calls of records an outage parked, which then did
   * not count against `maxAttempts` (the record started over), but are in the run's
   * `attempts`, which counts every call.
   */
  readonly parkedAttempts: number;
}

export interface RunReportPaths {
  readonly summary: string;
  readonly failures: string;
}

export interface SummaryInput {
  readonly job: string;
  readonly runId: string;
  readonly status: RunStatus;
  readonly reason: string;
  readonly counts: LedgerCounts;
  readonly stats: { attempts: number; retries: number };
  readonly thisRun: Summary['thisRun'];
  readonly alreadyDone: number;
  readonly elapsedMs: number;
  readonly topErrors: readonly ErrorGroup[];
  readonly ledger: string;
  readonly next: string | undefined;
  readonly warnings: readonly string[];
  readonly reports: RunReportPaths | undefined;
  readonly breaker: BreakerSummary;
  readonly pacing?: PacingSummary;
  readonly concurrency?: Summary['concurrency'];
  readonly waits?: ReaderWaitsSummary;
}

export function failureRate(counts: Pick<LedgerCounts, 'succeeded' | 'failed'>): number {
  const decided = counts.succeeded + counts.failed;
  return decided === 0 ? 0 : counts.failed / decided;
}

export function buildSummary(input: SummaryInput): Summary {
  const finishedThisRun = input.thisRun.succeeded + input.thisRun.failed + input.thisRun.skipped;
  return {
    schema: 1,
    job: input.job,
    runId: input.runId,
    status: input.status,
    reason: input.reason,
    total: input.counts.total,
    succeeded: input.counts.succeeded,
    failed: input.counts.failed,
    skipped: input.counts.skipped,
    pending: input.counts.pending,
    attempts: input.stats.attempts,
    retries: input.stats.retries,
    alreadyDone: input.alreadyDone,
    thisRun: input.thisRun,
    failureRate: round(failureRate(input.counts), 6),
    elapsedMs: Math.round(input.elapsedMs),
    recordsPerSecond: input.elapsedMs > 0 ? Math.round((finishedThisRun / input.elapsedMs) * 1000) : 0,
    topErrors: input.topErrors,
    ledger: input.ledger,
    sourceExhausted: input.counts.sourceExhausted,
    next: input.next,
    warnings: input.warnings,
    reports: input.reports,
    breaker: input.breaker,
    ...(input.pacing ? { pacing: input.pacing } : {}),
    ...(input.concurrency ? { concurrency: input.concurrency } : {}),
    ...(input.waits ? { waits: input.waits } : {}),
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
