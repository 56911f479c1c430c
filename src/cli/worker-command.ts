/**
 * `batchguard run <job-file> --ledger postgres://… --worker`: this process joins the job's shared
 * run as one of its workers (src/distributed/run-worker.ts) and prints what it did and how the run
 * ended. Every worker exits with the run's code: 0 completed, 1 threshold exceeded (on all
 * workers' outcomes), 3 aborted (for all), 130/143 interrupted. A run flag that means nothing for
 * a worker is refused with a one-line error naming it, never ignored.
 */
import { runWorker, type WorkerSummary } from '../distributed/run-worker.js';
import type { RerunOptions } from '../engine/run-options.js';
import { ConfigError } from '../errors.js';
import type { Job } from '../job.js';
import { parseDuration } from '../policy/deadline.js';
import { exitCodeOf } from './exit-codes.js';
import type { RunFlags } from './run-command.js';

/** What a worker does instead of a deadline: why `--max-duration`, `--until` and `--max-records` are refused. */
const NO_DEADLINE =
  'a worker takes chunks until the shared run is over; to stop one, interrupt it (SIGINT or SIGTERM: what it committed is kept, and another worker takes its chunk over)';

/** The run flags a worker refuses, and why. */
const NOT_FOR_WORKERS: readonly { readonly flag: string; readonly given: (flags: RunFlags) => boolean; readonly why: string }[] = [
  { flag: '--max-duration', given: (f) => f.maxDuration !== undefined, why: NO_DEADLINE },
  { flag: '--until', given: (f) => f.until !== undefined, why: NO_DEADLINE },
  { flag: '--max-records', given: (f) => f.maxRecords !== undefined, why: NO_DEADLINE },
  { flag: '--limit', given: (f) => f.limit !== undefined, why: NO_DEADLINE },
  {
    flag: '--accept-drift',
    given: (f) => f.acceptDrift === true,
    why: 'workers read the source as the shared run planned it and do not compare it with what the ledger recorded, so there is no change to accept',
  },
  {
    flag: '--take-over',
    given: (f) => f.takeOver === true,
    why: 'a shared run has no run lease to take: workers take over the chunks of a worker whose lease expired on their own',
  },
  { flag: '--alert-webhook', given: (f) => f.alertWebhook !== undefined, why: 'workers send no alerts yet' },
  { flag: '--metrics-port', given: (f) => f.metricsPort !== undefined, why: 'workers serve no metrics yet' },
];

/** Throws the ConfigError of the first run flag that a worker refuses. */
function refuseWorkerFlags(flags: RunFlags): void {
  const refused = NOT_FOR_WORKERS.find((entry) => entry.given(flags));
  if (refused !== undefined) {
    throw new ConfigError(`${refused.flag} cannot be used with --worker: ${refused.why}; drop ${refused.flag}, or run without --worker`, {
      field: refused.flag,
    });
  }
}

/** `rerun` (from `rerun --failed … --worker`): the workers share a rerun of those records instead of a run. */
export async function workerCommand(job: Job<any, any>, ledger: string, flags: RunFlags, rerun?: RerunOptions): Promise<number> {
  refuseWorkerFlags(flags);
  const stop = new AbortController();
  let signalName: 'SIGINT' | 'SIGTERM' | undefined;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    signalName ??= signal;
    stop.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let summary: WorkerSummary;
  try {
    summary = await runWorker(job, {
      ledger,
      ...(flags.pgSchema === undefined ? {} : { pgSchema: flags.pgSchema }),
      ...(flags.concurrency === undefined ? {} : { concurrency: flags.concurrency }),
      ...(flags.maxFailureRate === undefined ? {} : { maxFailureRate: flags.maxFailureRate }),
      ...(flags.maxFailures === undefined ? {} : { maxFailures: flags.maxFailures }),
      ...(flags.lease === undefined ? {} : { lease: { expireMs: parseDuration(flags.lease, '--lease') } }),
      ...(flags.recordsPerChunk === undefined ? {} : { recordsPerChunk: flags.recordsPerChunk }),
      ...(rerun === undefined ? {} : { rerun }),
      signal: stop.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (!flags.quiet) process.stdout.write(`${describe(summary)}\n`);
  return exitCodeOf(summary.status, signalName);
}

function describe(summary: WorkerSummary): string {
  const { shared } = summary;
  return [
    `batchguard worker: ${summary.rerun === undefined ? 'run' : 'rerun'} ${summary.runId} ${summary.status}${summary.abortReason ? ` (${summary.abortReason})` : summary.reason ? ` (${summary.reason})` : ''}`,
    ...(summary.rerun === undefined ? [] : [`  re-running      ${summary.rerun}: ${shared.total} selected records`]),
    `  this worker     ${summary.records} records, ${summary.chunksDone} chunks (${summary.chunksTakenOver} taken over, ${summary.chunksLost} lost)${summary.planned ? ', planned the run' : ''}`,
    `  the run         ${shared.total} records: ${shared.succeeded} succeeded, ${shared.failed} failed, ${shared.skipped} skipped; chunks ${shared.chunksDone} done, ${shared.chunksLeased} leased, ${shared.chunksOpen} open`,
    ...summary.warnings.map((warning) => `  warning: ${warning}`),
  ].join('\n');
}
