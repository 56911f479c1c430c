/**
 * `batchguard runs <job-file>`: the job's runs side by side, newest first (records, failures,
 * failure rate, elapsed, throughput), from the summaries the ledger keeps.
 */
import { liveRuns, shownStatus } from '../report/live-runs.js';
import { runFigures } from '../report/run-history.js';
import type { ListedRun } from './format-runs.js';
import { formatRuns } from './format-runs.js';
import { openExistingLedger } from './ledger-path.js';
import { loadJob } from './load-job.js';

export interface RunsFlags {
  ledger?: string;
  pgSchema?: string;
  json?: boolean;
  /** How many runs, newest first. @default 20 */
  limit?: number;
}

export async function runsCommand(jobFile: string, flags: RunsFlags): Promise<number> {
  const job = await loadJob(jobFile);
  const ledger = await openExistingLedger(job, flags, jobFile);
  try {
    const live = await liveRuns(ledger);
    const runs: ListedRun[] = (await ledger.runs(flags.limit ?? 20)).map((run) => ({
      runId: run.runId,
      startedAt: run.startedAt,
      status: shownStatus(run, live),
      figures: runFigures(run),
    }));
    if (flags.json) {
      const lines = runs.map(({ runId, startedAt, status, figures }) => {
        const { runId: _id, startedAt: _at, status: _status, ...numbers } = figures ?? ({} as Partial<NonNullable<typeof figures>>);
        return JSON.stringify({ runId, startedAt, status, ...numbers });
      });
      process.stdout.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
      return 0;
    }
    if (runs.length === 0) {
      process.stdout.write(`${job.name}: no runs yet\n`);
      return 0;
    }
    process.stdout.write(`${[`${job.name}: ${runs.length} most recent runs`, ...formatRuns(runs, '  ')].join('\n')}\n`);
    return 0;
  } finally {
    await ledger.close();
  }
}
