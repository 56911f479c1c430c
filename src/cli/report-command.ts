/**
 * `batchguard report <job-file> --html FILE [--run ID]`: writes the HTML report of a run (the latest
 * by default), with the runs up to it side by side, as one self-contained file, from the ledger alone.
 */
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { renderHtmlReport } from '../report/html/template.js';
import { openExistingLedger } from './ledger-path.js';
import { loadJob } from './load-job.js';
import { unknownRun } from './unknown-run.js';

export interface ReportFlags {
  ledger?: string;
  pgSchema?: string;
  html?: string;
  run?: string;
}

/** How many failure groups, and sample keys per message template, the report shows. */
const GROUPS = 20;
const SAMPLE_KEYS = 5;
/** How many runs the history chart shows, up to the reported one (as many as `runs` lists by default). */
const HISTORY_RUNS = 20;

export async function reportCommand(jobFile: string, flags: ReportFlags): Promise<number> {
  if (flags.html === undefined) throw new ConfigError('report needs --html FILE: the file to write the report to');
  const job = await loadJob(jobFile);
  const ledger = await openExistingLedger(job, flags, jobFile);
  try {
    const runs = await ledger.runs(flags.run === undefined ? HISTORY_RUNS : Number.MAX_SAFE_INTEGER);
    const run = flags.run === undefined ? runs[0] : runs.find((r) => r.runId === flags.run);
    if (run === undefined) {
      if (flags.run !== undefined) throw unknownRun(flags.run, ledger.location, jobFile, flags);
      throw new ConfigError(`the ledger ${ledger.location} has no runs yet`);
    }
    const page = renderHtmlReport({
      job: job.name,
      run,
      counts: await ledger.counts(),
      groups: await ledger.topErrors(GROUPS, SAMPLE_KEYS),
      timeline: await ledger.timeline(run.runId),
      // A report of an earlier run shows the runs up to it, not the ones that came after.
      history: runs.slice(runs.indexOf(run), runs.indexOf(run) + HISTORY_RUNS),
      generatedAt: new Date().toISOString(),
    });
    writeFileSync(flags.html, page);
    process.stderr.write(`wrote the report of run ${run.runId} to ${flags.html}\n`);
    return 0;
  } finally {
    await ledger.close();
  }
}
