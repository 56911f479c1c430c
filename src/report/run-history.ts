/**
 * History across runs: each run's figures side by side (records, failures, failure rate, elapsed,
 * throughput), read from the summaries the ledger keeps, and the regression check behind the
 * end-of-run summary's warning and the `run-regressed` alert: this run is markedly slower, or fails
 * markedly more, than the runs before it.
 */
import type { RunRecord } from '../ledger/ledger.js';
import { percent } from '../policy/percent.js';
import { failureRate } from './summary.js';

/** One run's figures, from its saved summary (this run's records only, not the job's totals). */
export interface RunFigures {
  readonly runId: string;
  readonly startedAt: string;
  readonly status: string;
  /** Records this run gave an outcome (succeeded, failed or skipped). */
  readonly records: number;
  readonly failed: number;
  /** Records this run skipped (blocked by a failed dependency): counted in `records`, not in the rate. */
  readonly skipped: number;
  /**
   * failed / (succeeded + failed) of this run (0 when none ran): the summary's and the thresholds'
   * rate, so a skipped record dilutes it no more than it does theirs.
   */
  readonly failureRate: number;
  readonly elapsedMs: number;
  readonly recordsPerSecond: number;
  /** A shared run's (docs/workers.md): its throughput is its workers' together. */
  readonly shared?: true;
}

/** How many earlier runs a run is compared with, newest first. */
export const COMPARED_RUNS = 5;
/** Runs that processed fewer records than this are too short to compare (timings of a handful of records are noise). */
export const MIN_COMPARED_RECORDS = 20;
/** "Markedly slower": throughput at most the baseline divided by this. */
export const SLOWER_FACTOR = 1.5;
/** "Fails markedly more": a failure rate at least this many times the baseline's … */
export const FAILURE_FACTOR = 2;
/** … and at least this much above it (so 0.1% → 0.3% is not a warning). */
export const FAILURE_MARGIN = 0.05;

type Counts = { succeeded?: unknown; failed?: unknown; skipped?: unknown };

/**
 * The figures of a run that ended with a summary; undefined for a running or crashed run. A shared
 * run's (docs/workers.md) come from the outcomes its workers recorded (`shared`) and the time
 * between its start and its end.
 */
export function runFigures(run: RunRecord): RunFigures | undefined {
  const summary = run.summary as { thisRun?: Counts; shared?: Counts; elapsedMs?: unknown; recordsPerSecond?: unknown } | undefined;
  if (summary?.thisRun !== undefined && typeof summary.elapsedMs === 'number')
    return figures(run, summary.thisRun, summary.elapsedMs, count(summary.recordsPerSecond));
  if (summary?.shared === undefined || run.endedAt === undefined) return undefined;
  const elapsedMs = Date.parse(run.endedAt) - Date.parse(run.startedAt);
  if (!(elapsedMs >= 0)) return undefined;
  const records = recordsOf(summary.shared);
  return { ...figures(run, summary.shared, elapsedMs, elapsedMs === 0 ? 0 : Math.round(records / (elapsedMs / 1000))), shared: true };
}

function figures(run: RunRecord, counts: Counts, elapsedMs: number, recordsPerSecond: number): RunFigures {
  const failed = count(counts.failed);
  return {
    runId: run.runId,
    startedAt: run.startedAt,
    status: run.status,
    records: recordsOf(counts),
    failed,
    skipped: count(counts.skipped),
    failureRate: failureRate({ succeeded: count(counts.succeeded), failed }),
    elapsedMs,
    recordsPerSecond,
  };
}

function recordsOf(counts: Counts): number {
  return count(counts.succeeded) + count(counts.failed) + count(counts.skipped);
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** What a run regressed in. */
export const RegressionKind = {
  /** Records per second at most the baseline ÷ `SLOWER_FACTOR`. */
  throughput: 'throughput',
  /** A failure rate at least `FAILURE_FACTOR` times the baseline's and `FAILURE_MARGIN` above it. */
  failureRate: 'failure-rate',
} as const;
export type RegressionKind = (typeof RegressionKind)[keyof typeof RegressionKind];

/** One way this run is markedly worse than the runs before it. */
export interface Regression {
  readonly kind: RegressionKind;
  /** This run's figure: records per second, or the share of its records that ran that failed (0–1). */
  readonly thisRun: number;
  /** The median of the same figure over the compared runs. */
  readonly median: number;
  /** How many earlier runs were compared. */
  readonly comparedRuns: number;
  /** One sentence with the figures, as the summary's warning and the `run-regressed` alert say it. */
  readonly message: string;
}

/**
 * How `current` is markedly slower or fails markedly more than the median of the earlier comparable
 * runs (`previous`, newest first; at least two of them, each with at least `MIN_COMPARED_RECORDS`
 * records). Throughput, not elapsed time, is compared: a resume processes fewer records than a first
 * run and takes less time without being faster. The one computation behind the summary's warning
 * and the alert.
 */
export function findRegressions(current: RunFigures, previous: readonly RunFigures[]): Regression[] {
  if (current.records < MIN_COMPARED_RECORDS) return [];
  const earlier = previous.filter((run) => run.records >= MIN_COMPARED_RECORDS && run.runId !== current.runId).slice(0, COMPARED_RUNS);
  if (earlier.length < 2) return [];
  const found: Regression[] = [];
  const runs = `the previous ${earlier.length} runs`;
  const speed = median(earlier.map((run) => run.recordsPerSecond));
  if (speed > 0 && current.recordsPerSecond <= speed / SLOWER_FACTOR) {
    const times = current.recordsPerSecond > 0 ? `${(speed / current.recordsPerSecond).toFixed(1)}× slower` : 'no throughput';
    found.push({
      kind: RegressionKind.throughput,
      thisRun: current.recordsPerSecond,
      median: speed,
      comparedRuns: earlier.length,
      message: `this run is markedly slower than ${runs}: ${current.recordsPerSecond} records/s against a median of ${speed} (${times})`,
    });
  }
  const rate = median(earlier.map((run) => run.failureRate));
  if (current.failureRate >= rate * FAILURE_FACTOR && current.failureRate >= rate + FAILURE_MARGIN) {
    found.push({
      kind: RegressionKind.failureRate,
      thisRun: current.failureRate,
      median: rate,
      comparedRuns: earlier.length,
      message: `this run fails markedly more than ${runs}: ${percent(current.failureRate)} of its records that ran failed against a median of ${percent(rate)}`,
    });
  }
  return found;
}

/** The summary's warnings for `regressions`, each pointing at the command that shows the runs. */
export function regressionWarnings(regressions: readonly Regression[]): string[] {
  return regressions.map((regression) => `${regression.message}; see batchguard runs`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
