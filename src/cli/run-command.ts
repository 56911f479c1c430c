/**
 * `batchguard run <job-file>`: runs the job, resuming where the last run stopped.
 */
import { parseDuration, parseUntil } from '../policy/deadline.js';
import { startRun, type RunHandle } from '../engine/run-job.js';
import { currentAttempt } from '../engine/escaped-errors.js';
import type { Job } from '../job.js';
import { existsSync } from 'node:fs';
import { cliCommand } from './cli-command.js';
import { isDatabaseLedger, ledgerPath, noLedger } from './ledger-path.js';
import { isMemoryLedger } from '../ledger/open-ledger.js';
import type { EngineEvent } from '../engine/events.js';
import type { RerunOptions, RunOptions } from '../engine/run-options.js';
import type { Summary } from '../report/summary.js';
import type { SerializedError } from '../policy/serialize-error.js';
import { printable, printableLine } from '../report/printable.js';
import { ExitCode, exitCodeOf } from './exit-codes.js';
import { formatSummary } from './format-summary.js';
import { loadJob } from './load-job.js';
import { plainLog, startProgress, type ProgressDisplay } from './progress-display.js';
import { startMonitoring, type AlertingFlags } from './alerting.js';

export interface RunFlags extends AlertingFlags {
  ledger?: string;
  pgSchema?: string;
  concurrency?: number;
  maxFailureRate?: number;
  maxFailures?: number;
  acceptDrift?: boolean;
  json?: boolean;
  progress?: boolean;
  progressEvery?: string;
  quiet?: boolean;
  verbose?: boolean;
  limit?: number;
  maxRecords?: number;
  maxDuration?: string;
  until?: string;
  dryRun?: boolean;
  takeOver?: boolean;
  lease?: string;
  worker?: boolean;
  recordsPerChunk?: number;
  keepRuns?: number;
}

/** How many failures are printed one by one before the rest are only counted. */
const FAILURES_PRINTED = 20;

export async function runCommand(jobFile: string, flags: RunFlags, rerun?: RerunOptions): Promise<number> {
  const job = await loadJob(jobFile);
  if (flags.dryRun) return dryRunCommand(job, flags, jobFile);
  const progressEveryMs = flags.progressEvery === undefined ? undefined : parseDuration(flags.progressEvery, '--progress-every');
  const ledger = ledgerPath(job, flags.ledger, jobFile);
  if (flags.worker && !rerun) return (await import('./worker-command.js')).workerCommand(job, ledger, flags);
  // A memory ledger is always new, and says nothing about where earlier runs were recorded. A
  // database ledger exists before any run: a re-run there finds its failures or none.
  const newLedger = !isMemoryLedger(ledger) && !isDatabaseLedger(ledger) && !existsSync(ledger);
  // A re-run needs the failures of an earlier run; without a ledger it would "complete" doing nothing.
  if (rerun && (newLedger || isMemoryLedger(ledger))) throw noLedger(ledger, jobFile, flags.ledger);
  const err = process.stderr;
  let failuresSeen = 0;
  let display: ProgressDisplay = plainLog(err);
  const started: { handle?: RunHandle } = {};
  const monitoring = await startMonitoring(
    job,
    flags,
    () => started.handle?.progress(),
    (line) => flags.quiet || display.log(printable(line)),
  );
  const onEvent = (event: EngineEvent): void => {
    monitoring?.onEvent(event);
    if (flags.quiet) return;
    // Said, so that a run started with a mistyped --ledger, or after the ledger was moved, is noticed.
    if (event.type === 'run:started' && newLedger) {
      display.log(
        `batchguard: run ${event.runId} started with a new ledger ${event.ledger} (nothing of job ${job.name} was recorded there before)`,
      );
      return;
    }
    if (event.type === 'record:failed') failuresSeen++;
    const line = describeEvent(event, flags.verbose === true, failuresSeen <= FAILURES_PRINTED);
    // Log lines are the handler's own text: redacted like its errors. Everything is escaped for the terminal.
    if (line) display.log(printable(event.type === 'record:log' ? job.redact(line) : line));
  };
  const options: RunOptions = {
    ledger: flags.ledger,
    pgSchema: flags.pgSchema,
    concurrency: flags.concurrency,
    maxFailureRate: flags.maxFailureRate,
    maxFailures: flags.maxFailures,
    acceptDrift: flags.acceptDrift,
    onEvent,
    jobFile,
    rerun,
    takeOver: flags.takeOver,
    keepRuns: flags.keepRuns,
    command: cliCommand(),
    lease: flags.lease === undefined ? undefined : { expireMs: parseDuration(flags.lease, '--lease') },
    maxRecords: flags.maxRecords ?? flags.limit,
    maxDurationMs: flags.maxDuration === undefined ? undefined : parseDuration(flags.maxDuration, '--max-duration'),
    untilMs: flags.until === undefined ? undefined : parseUntil(flags.until, Date.now(), '--until'),
  };
  const handle = startRun(job, options);
  started.handle = handle;
  const unguard = guardExit(handle.done, err);
  let signalName: 'SIGINT' | 'SIGTERM' | undefined;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (signalName === undefined) {
      signalName = signal;
      if (!flags.quiet)
        display.log(
          `batchguard: ${signal}: no new records; letting the running attempts finish (records waiting for a retry stay pending). Ctrl-C again stops at once`,
        );
      handle.stop(signal);
    } else {
      if (!flags.quiet) display.log(`batchguard: ${signal} again: saving what is recorded and stopping now`);
      handle.forceStop(signal);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (flags.progress !== false && !flags.quiet && !flags.json) {
    display = startProgress(() => handle.progress(), err, { plainEveryMs: progressEveryMs });
  }
  let summary: Summary;
  try {
    summary = await handle.done;
  } finally {
    unguard();
    await monitoring?.close();
    display.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (failuresSeen > FAILURES_PRINTED && !flags.quiet) {
    err.write(`… and ${failuresSeen - FAILURES_PRINTED} more failures in this run, not shown one by one (see the summary's top errors)\n`);
  }
  if (!flags.quiet) for (const warning of summary.warnings) err.write(`batchguard: warning: ${printable(warning)}\n`);
  if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (!flags.quiet) process.stdout.write(`${formatSummary(summary)}\n`);
  return exitCodeOf(summary.status, signalName);
}

async function dryRunCommand(job: Job<any, any>, flags: RunFlags, jobFile: string): Promise<number> {
  // Imported here, as the other commands (main.ts): a run does not load the dry run's code.
  const { dryRun } = await import('../use-cases/dry-run.js');
  const report = await dryRun(job, ledgerPath(job, flags.ledger, jobFile), flags.pgSchema);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    const lines = [
      `dry run of ${report.job} over ${report.source} (the handler is not called, the ledger is not changed)`,
      `  records          ${report.total}`,
      `  already done     ${report.alreadyDone}`,
      `  would process    ${report.wouldProcess}`,
      `  invalid          ${report.invalid}${report.invalid > 0 ? ' (a run records them as failed, kind invalid)' : ''}`,
      ...report.problems.map((p) => `    ${p.line !== undefined ? `line ${p.line}` : `record #${p.seq}`}: ${p.message}`),
    ];
    if (report.invalid > report.problems.length) lines.push(`    … and ${report.invalid - report.problems.length} more`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return report.invalid > 0 ? ExitCode.thresholdExceeded : ExitCode.ok;
}

/**
 * While the run is unfinished, an exit of the process (the job's code calling `process.exit(0)`)
 * must not tell a scheduler that the job succeeded: the exit code becomes 7, with a line saying
 * which record's code exited when it is known. Returns a function that removes the guard.
 */
function guardExit(done: Promise<unknown>, err: NodeJS.WritableStream): () => void {
  let finished = false;
  const onExit = (code: number): void => {
    if (finished) return;
    process.exitCode = ExitCode.exitedMidRun;
    const attempt = currentAttempt();
    const who = attempt ? `the handler of record ${JSON.stringify(attempt.key)}` : "the job's code";
    // Writes to a pipe or a file are synchronous here, so the line is out before the process is.
    err.write(
      `batchguard: error: ${who} called process.exit(${code}) while the run was unfinished; ` +
        `nothing after the last checkpoint was saved; exit code ${ExitCode.exitedMidRun}. Run \`batchguard run\` again to resume: ` +
        'the records that were in flight count as crashed, and one that exits every time is failed as crashed after maxCrashes runs\n',
    );
  };
  process.on('exit', onExit);
  const unguard = (): void => {
    finished = true;
    process.off('exit', onExit);
  };
  done.then(unguard, unguard);
  return unguard;
}

function describeEvent(event: EngineEvent, verbose: boolean, printFailure: boolean): string | undefined {
  switch (event.type) {
    case 'run:started':
      if (event.rerunSelected !== undefined)
        return `batchguard: re-running ${event.rerunSelected} failed or skipped records; ledger ${event.ledger}`;
      return event.alreadyDone > 0
        ? `batchguard: resuming: ${event.alreadyDone} records already done${event.crashedRunId ? ` (run ${event.crashedRunId} had died without finishing)` : ''}; ledger ${event.ledger}`
        : `batchguard: run ${event.runId} started; ledger ${event.ledger}`;
    case 'record:retrying':
      return verbose
        ? `retry   ${event.key} attempt ${event.attempt} failed (${event.error.name}: ${oneLine(event.error.message)}); next in ${event.delayMs} ms`
        : undefined;
    case 'record:failed':
      if (!printFailure) return undefined;
      return `failed  ${event.key} [${event.kind}] after ${event.attempts} attempt(s): ${event.error.name}: ${oneLine(event.error.message)}`;
    case 'breaker:opened':
      return `batchguard: breaker opened: ${event.description}; ${event.error.name}: ${oneLine(event.error.message)}. No new records until it recovers; records hit by the outage stay pending`;
    case 'breaker:half-open':
      return `batchguard: breaker half-open: probing (${event.parked} records parked)`;
    case 'breaker:closed':
      return `batchguard: breaker closed after ${(event.openMs / 1000).toFixed(1)} s; resuming ${event.released} parked records`;
    case 'concurrency:changed':
      return verbose ? `limit   concurrency ${event.limit} (${event.reason})` : undefined;
    case 'run:deadline':
      return `batchguard: stopping: ${event.reason}; letting the running attempts finish`;
    case 'run:aborted':
      return `batchguard: aborting: ${event.reason}`;
    case 'run:uncaught-error':
      return (
        `batchguard: an error escaped the job's code ${event.origin === undefined ? 'outside any record' : `from ${event.origin}`}, and no running record can be blamed for it; ` +
        `stopping (the records in flight get the grace period, what finished is saved):\n  ${stackLines(event.error)}`
      );
    case 'record:log':
      return verbose ? `log     ${event.key}: ${event.message}${event.fields ? ` ${JSON.stringify(event.fields)}` : ''}` : undefined;
    // Shown by the progress line and the summary instead; listed so a new event type is a decision, not a silence.
    case 'checkpoint':
    case 'attempt:ended':
    case 'record:succeeded':
    case 'record:skipped':
    case 'run:stopping':
    case 'run:finished':
      return undefined;
  }
}

/** `name: message` and the first frames of the stack, indented: where the escaped error came from. */
function stackLines(error: SerializedError): string {
  const frames = (error.stack ?? '')
    .split('\n')
    .filter((line) => line.trimStart().startsWith('at '))
    .slice(0, STACK_FRAMES_PRINTED);
  return [`${error.name}: ${error.message}`, ...frames.map((line) => `  ${line.trim()}`)].join('\n  ');
}

/** Stack frames printed for an error that escaped the job's code. */
const STACK_FRAMES_PRINTED = 5;
/** How much of an error message a progress line shows; the report has the rest. */
const MESSAGE_CHARS_SHOWN = 300;

function oneLine(message: string): string {
  return printableLine(message, MESSAGE_CHARS_SHOWN);
}
