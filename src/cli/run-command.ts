/**
 * `batchguard run <job-file>`: runs the job, resuming where the last run stopped.
 */
import { parseLeaseFlag } from './lease-flag.js';
import { parseDuration, parseUntil } from '../policy/deadline.js';
import { startRun, type RunHandle } from '../engine/run-job.js';
import type { Job } from '../job.js';
import { existsSync } from 'node:fs';
import { cliCommand } from './cli-command.js';
import { checkRerunFilter } from './failure-filter-flags.js';
import { isDatabaseLedger, ledgerPath, noLedger, openExistingLedger } from './ledger-path.js';
import { isMemoryLedger } from '../ledger/open-ledger.js';
import type { EngineEvent } from '../engine/events.js';
import type { RerunOptions, RunOptions } from '../engine/run-options.js';
import type { Summary } from '../report/summary.js';
import { createLogger } from '../observe/logger.js';
import { LogFormat } from '../observe/log-options.js';
import { logEvent, loggedEventTypes, logProgress, logSummary } from '../observe/run-log.js';
import { ExitCode, exitCodeOf, STOP_SIGNALS, type StopSignal } from './exit-codes.js';
import { formatSummary } from './format-summary.js';
import { loadJob } from './load-job.js';
import { logSettings, type LogFlags } from './log-settings.js';
import { plainLog, startProgress, type ProgressDisplay } from './progress-display.js';
import { startMonitoring, type AlertingFlags } from './alerting.js';
import { chooseRunMode } from './run-mode.js';
import { guardExit, logExitedMidRun, quitUnsaved } from './process-exit.js';
import { LedgerError } from '../errors.js';

export interface RunFlags extends AlertingFlags, LogFlags {
  ledger?: string;
  pgSchema?: string;
  concurrency?: number;
  maxFailureRate?: number;
  maxFailures?: number;
  acceptDrift?: boolean;
  json?: boolean;
  progress?: boolean;
  progressEvery?: string;
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

/**
 * How many failures a terminal shows one by one before the rest are only counted. JSON logs have
 * every failure: a collector filters them, a person scrolling a terminal cannot.
 */
const FAILURES_PRINTED = 20;

export async function runCommand(jobFile: string, flags: RunFlags, rerun?: RerunOptions): Promise<number> {
  const settings = logSettings(flags, process.env, process.stderr.isTTY === true);
  const job = await loadJob(jobFile);
  if (flags.dryRun) return dryRunCommand(job, flags, jobFile);
  const progressEveryMs = flags.progressEvery === undefined ? undefined : parseDuration(flags.progressEvery, '--progress-every');
  const ledger = ledgerPath(job, flags.ledger, jobFile);
  // A re-run needs earlier failures: a database without the job's runs (a mistyped --pg-schema) is
  // refused, not created, whether the re-run is one process or shared; so is an error group or a kind
  // that no failure has (a start of a group stands for the whole, so that every worker of a rerun
  // says the same).
  if (rerun && (isDatabaseLedger(ledger) || rerun.fingerprint !== undefined || rerun.kind !== undefined)) {
    const existing = await openExistingLedger(job, flags, jobFile);
    try {
      rerun = await checkRerunFilter(existing, rerun, jobFile, flags);
    } finally {
      await existing.close();
    }
  }
  const mode = chooseRunMode(job, ledger, flags, rerun);
  if (mode.kind === 'worker') return (await import('./worker-command.js')).workerCommand(job, ledger, flags, rerun);
  // A memory ledger is always new, and says nothing about where earlier runs were recorded. A
  // database ledger exists before any run: a re-run there finds its failures or none.
  const newLedger = !isMemoryLedger(ledger) && !isDatabaseLedger(ledger) && !existsSync(ledger);
  // A re-run needs the failures of an earlier run; without a ledger it would "complete" doing nothing.
  if (rerun && (newLedger || isMemoryLedger(ledger))) throw noLedger(ledger, jobFile, flags.ledger);
  const err = process.stderr;
  let failuresSeen = 0;
  let display: ProgressDisplay = plainLog(err);
  const log = createLogger({ ...settings, write: (line) => display.log(line), redact: job.redact, bindings: { job: job.name } });
  if (mode.notWorker !== undefined) {
    if (mode.announce)
      log.warn({ event: 'run:single-process', reason: mode.notWorker }, `running as one process, not as a worker: ${mode.notWorker}`);
    await (await import('./refuse-beside-workers.js')).refuseBesideWorkers(job, ledger, flags.pgSchema, mode.notWorker);
  }
  if (flags.recordsPerChunk !== undefined)
    log.warn(
      { event: 'run:flag-unused', flag: '--records-per-chunk' },
      '--records-per-chunk is left unused: it splits a shared run, and this run is one process',
    );
  const started: { handle?: RunHandle } = {};
  const monitoring = await startMonitoring(job, flags, () => started.handle?.progress(), log);
  const onEvent = (event: EngineEvent): void => {
    // Every entry from here on names the run, those of the alerts and the signal handlers too.
    if (event.type === 'run:started') log.setBindings({ runId: event.runId });
    monitoring?.onEvent(event);
    if (event.type === 'record:failed' && ++failuresSeen > FAILURES_PRINTED && settings.format === LogFormat.pretty) return;
    logEvent(log, event, { job: job.name, newLedger });
  };
  const options: RunOptions = {
    ledger: flags.ledger,
    pgSchema: flags.pgSchema,
    concurrency: flags.concurrency,
    maxFailureRate: flags.maxFailureRate,
    maxFailures: flags.maxFailures,
    acceptDrift: flags.acceptDrift,
    onEvent,
    // What the log writes at its level and what the monitors read: a success builds no event then.
    eventTypes: [...new Set<EngineEvent['type']>(['run:started', ...loggedEventTypes(log), ...(monitoring?.eventTypes ?? [])])],
    jobFile,
    rerun,
    takeOver: flags.takeOver,
    keepRuns: flags.keepRuns,
    command: cliCommand(),
    lease: flags.lease === undefined ? undefined : parseLeaseFlag(flags.lease),
    maxRecords: flags.maxRecords ?? flags.limit,
    maxDurationMs: flags.maxDuration === undefined ? undefined : parseDuration(flags.maxDuration, '--max-duration'),
    untilMs: flags.until === undefined ? undefined : parseUntil(flags.until, commandStartedAtMs(), '--until'),
  };
  const handle = startRun(job, options);
  started.handle = handle;
  const unguard = guardExit(logExitedMidRun(log), handle.done);
  let signalName: StopSignal | undefined;
  let signals = 0;
  const onSignal = (signal: StopSignal): void => {
    signals++;
    if (signalName === undefined) {
      signalName = signal;
      log.warn(
        { event: 'run:signal', signal },
        `${signal}: no new records; letting the running attempts finish (records waiting for a retry stay pending). Ctrl-C again stops at once`,
      );
      handle.stop(signal);
    } else if (signals === 2) {
      log.warn(
        { event: 'run:signal', signal },
        `${signal} again: saving what is recorded and stopping now; a third time quits without waiting`,
      );
      handle.forceStop(signal);
    } else {
      quitUnsaved(log, signal, signalName, unguard);
    }
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  if (flags.progress !== false && !flags.quiet && !flags.json) {
    display = startProgress(() => handle.progress(), err, {
      plainEveryMs: progressEveryMs,
      // In JSON, a progress line is an entry with its figures; a forced pretty log keeps the plain line.
      plain: settings.format === LogFormat.json ? (_line, progress, figures) => logProgress(log, progress, figures) : undefined,
    });
  }
  let summary: Summary;
  try {
    summary = await handle.done.catch((error: unknown) => {
      throw mode.notWorker === undefined ? error : whyNotJoined(error, mode.notWorker);
    });
  } finally {
    unguard();
    await monitoring?.close();
    display.stop();
    // Lines from here on go below the cleared progress line, which must not be drawn again.
    display = plainLog(err);
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
  if (failuresSeen > FAILURES_PRINTED && settings.format === LogFormat.pretty) {
    const more = failuresSeen - FAILURES_PRINTED;
    log.info(
      { event: 'run:more-failures', more },
      `… and ${more} more failures in this run, not shown one by one (see the summary's top errors)`,
    );
  }
  logSummary(log, summary);
  if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (!flags.quiet) process.stdout.write(`${formatSummary(summary)}\n`);
  return exitCodeOf(summary.status, signalName);
}

/** The lease error of a single-process run beside another, saying why this one did not join a shared run instead. */
function whyNotJoined(error: unknown, notWorker: string): unknown {
  if (!(error instanceof LedgerError && error.code === 'LEDGER_LOCKED')) return error;
  return new LedgerError('LEDGER_LOCKED', `${error.message}. This process ran as one process, not as a worker, because ${notWorker}`, {
    cause: error,
  });
}

async function dryRunCommand(job: Job<any, any>, flags: RunFlags, jobFile: string): Promise<number> {
  // Imported here, as the other commands (main.ts): a run does not load the dry run's code.
  const { dryRun } = await import('../use-cases/dry-run.js');
  const report = await dryRun(job, ledgerPath(job, flags.ledger, jobFile), flags.pgSchema);
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else process.stdout.write(`${(await import('./format-dry-run.js')).formatDryRun(report)}\n`);
  return report.invalid > 0 ? ExitCode.thresholdExceeded : ExitCode.ok;
}

/**
 * When the command was started (the process's start): a time of day given to `--until` is read
 * against it, not against the moment the flags are parsed. A time a few seconds ahead when the
 * command was typed would otherwise, on a loaded machine whose start-up took longer than that, be
 * taken for tomorrow's and the run would go on all night; read against the start, it is today's,
 * already past, and the run stops before its first record.
 */
function commandStartedAtMs(): number {
  return Math.min(Date.now(), performance.timeOrigin);
}
