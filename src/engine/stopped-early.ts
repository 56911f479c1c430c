/**
 * A run stopped (a signal, `stop()`, an aborted `signal` option) before its first record: while it
 * waited for another run's lease (it never began), or while it was being prepared: matching a changed source to the ledger (the drift pass reads the whole
 * source), loading the keys or the dependencies. The preparation gives up with the stop's reason;
 * the run then ends as it would have a moment later, `interrupted`, with a summary, and nothing in
 * the ledger changed but the run's own row.
 */
import type { Job } from '../job.js';
import type { Ledger } from '../ledger/ledger.js';
import { buildSummary, type Summary } from '../report/summary.js';
import type { EngineEvents } from './events.js';
import { stoppingFor, type RunEnding } from './run-ending.js';
import type { ResolvedRunOptions } from './run-options.js';
import { decideStatus, nextCommand } from './run-status.js';

/** Whether `error` is what a preparation gave up with because the run was stopped (`signal`, aborted). */
export function isStopOf(signal: AbortSignal, error: unknown): boolean {
  return signal.aborted && (error === signal.reason || (error instanceof Error && error.name === 'AbortError'));
}

/** The summary of a run stopped before its first record; the ledger's row of the run ends with it. */
export async function stoppedBeforeRecords(input: {
  readonly job: Job<any, any>;
  readonly options: ResolvedRunOptions;
  readonly ledger: Ledger;
  readonly runId: string;
  readonly ending: RunEnding | undefined;
  readonly elapsedMs: number;
  readonly events: EngineEvents;
  /** False: stopped while waiting for another run's lease, the run never began (no row of it). */
  readonly begun: boolean;
}): Promise<Summary> {
  const { job, options, ledger, runId } = input;
  const counts = await ledger.counts();
  const ending = input.ending ?? { kind: 'stopped', reason: 'stop()' };
  const stopped = ending.kind === 'stopped' ? `stopped by ${ending.reason}` : `stopped for ${stoppingFor(ending)}`;
  const when = input.begun
    ? 'before the first record, while the run was being prepared; nothing was changed'
    : "while waiting for another run's lease on the ledger, before this run began; nothing was done";
  const { status } = decideStatus({
    ending,
    counts,
    maxFailures: options.maxFailures,
    maxFailureRate: options.maxFailureRate,
  });
  const summary = buildSummary({
    job: job.name,
    runId,
    status,
    reason: `${stopped} ${when}; run again to go on`,
    counts,
    stats: { attempts: 0, retries: 0 },
    thisRun: { succeeded: 0, failed: 0, skipped: 0 },
    alreadyDone: counts.succeeded + counts.failed + counts.skipped,
    elapsedMs: input.elapsedMs,
    topErrors: await ledger.topErrors(5, 3),
    ledger: ledger.location,
    // The options name the job file, the ledger flag and the command, as the hint prints them.
    next: nextCommand({ ...options, status, counts, transientFailures: false }),
    warnings: [],
    reports: undefined,
    breaker: { state: 'closed', trips: 0, retriesDeferred: 0, parkedAttempts: 0 },
  });
  if (!input.begun) return summary;
  await ledger.finish(runId, status, summary);
  input.events.emit({ type: 'run:finished', summary });
  return summary;
}
