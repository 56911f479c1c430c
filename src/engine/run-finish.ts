/**
 * The end of a run: the last commit, then either the error the run ended for, or the summary
 * (status from why the run ended and the job's counts), the run's reports, and `run:finished`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Job } from '../job.js';
import type { BreakerState, BreakerTripReason } from '../policy/breaker.js';
import type { KeyedBuckets } from '../policy/keyed-buckets.js';
import type { SerializedError } from '../policy/serialize-error.js';
import { pruneRunReports } from '../report/prune-run-reports.js';
import { writeRunReports } from '../report/run-reports.js';
import { buildSummary, type ReaderWaitsSummary, type Summary } from '../report/summary.js';
import type { ConcurrencySummary } from './adaptive-concurrency.js';
import { COMPARED_RUNS, findRegressions, regressionWarnings, runFigures, type Regression, type RunFigures } from '../report/run-history.js';
import type { Ledger } from '../ledger/ledger.js';
import type { EngineEvents } from './events.js';
import type { FairScheduler } from './fair-scheduler.js';
import type { OpenRecord } from './open-record.js';
import type { OutcomeRecorder } from './outcome-recorder.js';
import { thrownBy, type RunEnding } from './run-ending.js';
import type { ResolvedRunOptions } from './run-options.js';
import type { RunParts } from './run-setup.js';
import { decideStatus, hasTransientFailures, nextCommand } from './run-status.js';

export interface FinishInput {
  readonly job: Job<any, any>;
  readonly options: ResolvedRunOptions;
  readonly parts: RunParts;
  /**
   * Why the run ended early, if it did: asked after the last commit, which can itself be why (the
   * ledger refused it, or an error escaped the job's code while it was on its way).
   */
  readonly ending: () => RunEnding | undefined;
  readonly recorder: OutcomeRecorder;
  /** Whether the source was read to its end. */
  readonly exhausted: boolean;
  readonly stats: {
    readonly attempts: number;
    readonly retries: number;
    readonly retriesDeferred: number;
    readonly parkedAttempts: number;
  };
  readonly startedAtMs: number;
  readonly breaker: {
    readonly state: BreakerState;
    readonly trips: number;
    readonly lastTrip: { readonly reason: BreakerTripReason; readonly description: string } | undefined;
    readonly tripError: SerializedError | undefined;
  };
  readonly limiter: KeyedBuckets | undefined;
  readonly fair: FairScheduler<OpenRecord> | undefined;
  /** The adaptive concurrency limit's figures, with `concurrency: { min, max }`. */
  readonly concurrency: ConcurrencySummary | undefined;
  /** Where the reader waited (reader-waits.ts). */
  readonly waits: ReaderWaitsSummary;
  readonly events: EngineEvents;
}

/** Commits what is left and returns the run's summary, or throws the error the run ended for. */
export async function finishRun(input: FinishInput): Promise<Summary> {
  const { job, options, parts, recorder, exhausted, events } = input;
  const { ledger, runId } = parts;
  await recorder.commitLast(exhausted);
  // One turn of the event loop first: Node reports a rejection nobody handled only once the
  // microtasks have run, and a run made of nothing else (a quick handler, SQLite's synchronous
  // commits) would have stopped listening by then (escaped-errors.ts), leaving the error to end
  // the process after the summary. What escapes meanwhile ends the run, as it would a moment earlier.
  await nextTurn();
  // Read after the last commit: a failed commit is itself why the run ended.
  const ending = input.ending();
  const thrown = thrownBy(ending);
  if (thrown) throw thrown.error;
  const counts = await ledger.counts();
  const { status, reason } = decideStatus({
    ending,
    counts,
    maxFailures: options.maxFailures,
    maxFailureRate: options.maxFailureRate,
  });
  const built = buildSummary({
    job: job.name,
    runId,
    status,
    reason,
    counts,
    stats: input.stats,
    thisRun: recorder.thisRun,
    alreadyDone: parts.resume.alreadyDone,
    elapsedMs: options.clock.now() - input.startedAtMs,
    topErrors: await ledger.topErrors(5, 3),
    ledger: ledger.location,
    // The options name the job file, the ledger flag and the command, as the hint prints them.
    next: nextCommand({ ...options, status, counts, transientFailures: counts.failed > 0 && (await hasTransientFailures(ledger)) }),
    warnings: [...(parts.driftNote ? [parts.driftNote] : []), ...parts.selector.warnings(exhausted), ...events.warnings()],
    reports: undefined,
    breaker: breakerSummary(input),
    pacing:
      input.limiter || input.fair
        ? {
            ...(input.limiter ? { rateLimit: input.limiter.snapshot() } : {}),
            ...(input.fair ? { saturatedKeys: input.fair.saturatedKeys().slice(0, 20) } : {}),
          }
        : undefined,
    concurrency: input.concurrency,
    waits: input.waits,
  });
  const regressions = await regressionCheck(ledger, built);
  const draft =
    regressions.length > 0 ? { ...built, warnings: [...built.warnings, ...regressionWarnings(regressions)], regressions } : built;
  const reports = await writeRunReports(ledger, draft);
  if (reports) pruneRunReports(reports, options.keepRuns);
  const summary = { ...draft, reports };
  await ledger.finish(runId, status, summary);
  events.emit({ type: 'run:finished', summary });
  return summary;
}

/** This run against the earlier ones the ledger remembers (the regression warning and alert). */
async function regressionCheck(ledger: Ledger, draft: Summary): Promise<Regression[]> {
  const current = runFigures({
    runId: draft.runId,
    startedAt: '',
    endedAt: undefined,
    status: draft.status,
    pid: 0,
    host: '',
    summary: draft,
  });
  if (!current) return [];
  // A shared run's throughput is its workers' together: a single run is compared with single runs.
  const earlier = (await ledger.runs(COMPARED_RUNS + 1))
    .map(runFigures)
    .filter((run): run is RunFigures => run !== undefined && run.shared !== true);
  return findRegressions(current, earlier);
}

function breakerSummary({ breaker, stats }: FinishInput): Summary['breaker'] {
  const trip = breaker.lastTrip;
  const error = breaker.tripError;
  return {
    state: breaker.state,
    trips: breaker.trips,
    retriesDeferred: stats.retriesDeferred,
    parkedAttempts: stats.parkedAttempts,
    ...(trip
      ? {
          lastTrip: {
            reason: trip.reason,
            description: trip.description,
            ...(error ? { error: { name: error.name, message: error.message } } : {}),
          },
        }
      : {}),
  };
}
