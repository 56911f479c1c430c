/**
 * `batchguard run <job-file> --ledger postgres://… --worker`: this process joins the job's shared
 * run as one of its workers (src/distributed/run-worker.ts) and prints what it did and how the run
 * ended. Every worker exits with the run's code: 0 completed, 1 threshold exceeded (on all
 * workers' outcomes), 3 aborted (for all), 130/143 interrupted.
 */
import { runWorker, type WorkerSummary } from '../distributed/run-worker.js';
import type { Job } from '../job.js';
import { parseDuration } from '../policy/deadline.js';
import { exitCodeOf } from './exit-codes.js';
import type { RunFlags } from './run-command.js';

export async function workerCommand(job: Job<any, any>, ledger: string, flags: RunFlags): Promise<number> {
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
    `batchguard worker: run ${summary.runId} ${summary.status}${summary.abortReason ? ` (${summary.abortReason})` : ''}`,
    `  this worker     ${summary.records} records, ${summary.chunksDone} chunks (${summary.chunksTakenOver} taken over, ${summary.chunksLost} lost)${summary.planned ? ', planned the run' : ''}`,
    `  the run         ${shared.total} records: ${shared.succeeded} succeeded, ${shared.failed} failed, ${shared.skipped} skipped; chunks ${shared.chunksDone} done, ${shared.chunksLeased} leased, ${shared.chunksOpen} open`,
  ].join('\n');
}
