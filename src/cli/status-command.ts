/**
 * `batchguard status <job-file>`: the job's state across all runs, read from the ledger.
 */
import type { LeaseHolder, RunRecord } from '../ledger/ledger.js';
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

/**
 * A run's status as status shows it. The ledger marks a run `running` when it starts and only the
 * next run marks it `crashed` if it died; until then, a `running` run that does not hold the
 * ledger's lease (its process is gone) is shown as `crashed`. The lease is the one source of truth
 * for "is it running".
 */
export function shownStatus(run: Pick<RunRecord, 'runId' | 'status'>, holder: Pick<LeaseHolder, 'runId'> | undefined): string {
  return run.status === 'running' && holder?.runId !== run.runId ? 'crashed' : run.status;
}

export async function statusCommand(jobFile: string, flags: StatusFlags): Promise<number> {
  const job = await loadJob(jobFile);
  const ledger = await openExistingLedger(job, flags, jobFile);
  try {
    const counts = await ledger.counts();
    const holder = await ledger.holder();
    const runs = (await ledger.runs(10)).map((run) => ({ ...run, status: shownStatus(run, holder) }));
    const status = {
      schema: 1,
      job: job.name,
      ...counts,
      ledger: ledger.location,
      active: holder
        ? { runId: holder.runId, pid: holder.pid, host: holder.host, since: holder.acquiredAt, leaseExpiresAt: holder.expiresAt }
        : null,
      // Each run with its own figures (records, failed, failureRate, elapsedMs, recordsPerSecond) when it ended with a summary.
      runs: runs.map(({ summary: _summary, ...run }) => {
        const figures = runFigures({ ...run, summary: _summary });
        return figures
          ? {
              ...run,
              records: figures.records,
              failed: figures.failed,
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
      holder
        ? `  active: run ${holder.runId} (pid ${holder.pid} on ${holder.host}, since ${holder.acquiredAt}; lease expires at ${holder.expiresAt} unless renewed)`
        : '  active: none',
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
