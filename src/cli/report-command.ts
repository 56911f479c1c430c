/**
 * `batchguard report <job-file> --html FILE [--run ID]`: writes the HTML report of a run (the latest
 * by default), with the runs up to it side by side, as one self-contained file, from the ledger alone.
 */
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { renderHtmlReport } from '../report/html/template.js';
import { printable } from '../report/printable.js';
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
  refuseToOverwrite(flags.html);
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
    writeReport(flags.html, page);
    process.stderr.write(`wrote the report of run ${run.runId} to ${flags.html}\n`);
    return 0;
  } finally {
    await ledger.close();
  }
}

/**
 * The report writes over an earlier report (or any HTML page), never over another file: a slip of
 * `--html` naming the ledger, the job file or the input would otherwise destroy it.
 */
function refuseToOverwrite(path: string): void {
  let head: string;
  try {
    const handle = openSync(path, 'r');
    try {
      const bytes = Buffer.alloc(256);
      head = bytes.subarray(0, readSync(handle, bytes, 0, bytes.length, 0)).toString('utf8');
    } finally {
      closeSync(handle);
    }
  } catch {
    return; // No such file (or not a file: the write says why).
  }
  const start = head
    .replace(/^\uFEFF/, '')
    .trimStart()
    .slice(0, 15)
    .toLowerCase();
  if (head.length === 0 || start.startsWith('<!doctype html') || start.startsWith('<html')) return;
  throw new ConfigError(
    `--html ${path}: the file exists and is not an HTML page (it starts with ${JSON.stringify(printable(head.slice(0, 16)))}); the report does not write over it: name another file, or remove this one first`,
    { field: '--html' },
  );
}

function writeReport(path: string, page: string): void {
  try {
    writeFileSync(path, page);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(`--html ${path}: cannot write the report there (${code})`, { field: '--html' });
  }
}
