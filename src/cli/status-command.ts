/**
 * `batchguard status <job-file>`: the job's state across all runs, read from the ledger.
 */
import { activeSharedRun, liveRuns, shownStatus, type LiveRuns } from '../report/live-runs.js';
import { openExistingLedger } from './ledger-path.js';
import { loadJob } from './load-job.js';
import { formatCount } from './format-count.js';
import { formatRuns } from './format-runs.js';
import { runFigures } from '../report/run-history.js';

export interface StatusFlags {
  ledger?: string;
  pgSchema?: string;
  json?: boolean;
}

export async function statusCommand(jobFile: string, flags: StatusFlags): Promise<number> {
  const job = await loadJob(jobFile);
  const ledger = await openExistingLedger(job, flags, jobFile);
  try {
    const counts = await ledger.counts();
    const live = await liveRuns(ledger);
    const runs = (await ledger.runs(10)).map((run) => ({ ...run, status: shownStatus(run, live) }));
    const status = {
      schema: 1,
      job: job.name,
      ...counts,
      ledger: ledger.location,
      active: activeJson(live),
      // Each run with its own figures (records, failed, failureRate, elapsedMs, recordsPerSecond) when it ended with a summary.
      runs: runs.map(({ summary: _summary, ...run }) => {
        const figures = runFigures({ ...run, summary: _summary });
        return figures
          ? {
              ...run,
              records: figures.records,
              failed: figures.failed,
              skipped: figures.skipped,
              failureRate: figures.failureRate,
              elapsedMs: figures.elapsedMs,
              recordsPerSecond: figures.recordsPerSecond,
            }
          : run;
      }),
    };
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(status)}\n`);
      return 0;
    }
    const lines = [
      `${job.name}: ${formatCount(counts.total)} records${counts.sourceExhausted ? '' : ' seen so far (the source has not been read to its end)'}`,
      `  succeeded ${formatCount(counts.succeeded)}, failed ${formatCount(counts.failed)}, skipped ${formatCount(counts.skipped)}, pending ${formatCount(counts.pending)}`,
      `  active: ${activeText(live)}`,
      `  ledger: ${ledger.location}`,
      '  recent runs:',
      ...formatRuns(
        runs.map((run) => ({ runId: run.runId, startedAt: run.startedAt, status: run.status, figures: runFigures(run) })),
        '    ',
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    await ledger.close();
  }
}

/** The run going on now, for `--json`: the lease's holder, or the shared run and its workers. */
function activeJson(live: LiveRuns): Record<string, unknown> | null {
  const { holder } = live;
  const shared = activeSharedRun(live);
  if (holder)
    return { runId: holder.runId, pid: holder.pid, host: holder.host, since: holder.acquiredAt, leaseExpiresAt: holder.expiresAt };
  if (shared === undefined) return null;
  if (shared.runId === undefined) return { runId: null, shared: true, planning: true };
  return { runId: shared.runId, shared: true, workers: shared.workers, chunks: shared.chunks, chunksDone: shared.chunksDone };
}

/** The same, for a person. */
function activeText(live: LiveRuns): string {
  const { holder } = live;
  const shared = activeSharedRun(live);
  if (holder)
    return `run ${holder.runId} (pid ${holder.pid} on ${holder.host}, since ${holder.acquiredAt}; lease expires at ${holder.expiresAt} unless renewed)`;
  if (shared === undefined)
    return live.died ? `none (run ${live.died.runId}, pid ${live.died.pid}, died without finishing; run resumes it)` : 'none';
  if (shared.runId === undefined) return 'a worker is planning a shared run';
  const workers = shared.workers === 1 ? '1 worker holds' : `${shared.workers} workers hold`;
  return `shared run ${shared.runId} (${workers} chunks; ${formatCount(shared.chunksDone)} of ${formatCount(shared.chunks)} chunks done)`;
}
