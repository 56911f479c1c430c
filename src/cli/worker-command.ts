/**
 * `batchguard run <job-file> --ledger postgres://…` (or `--worker`): this process joins the job's
 * shared run as one of its workers (src/distributed/run-worker.ts), logs on stderr as a single run
 * does (the run it joined, failures, the breaker, chunks taken over or lost, a progress line), and
 * prints how the run ended. Every worker exits with the run's code: 0 completed, 1 threshold
 * exceeded (on all workers' outcomes), 3 aborted (for all), 130/143 interrupted. With `--worker`, a
 * run flag that means nothing for a worker is refused with a one-line error naming it, never ignored.
 */
import { counted } from '../domain/counted.js';
import { parseLeaseFlag } from './lease-flag.js';
import { printable } from '../report/printable.js';
import { runWorker, type WorkerSummary } from '../distributed/run-worker.js';
import type { WorkerEvent } from '../distributed/worker-events.js';
import type { EngineEvent } from '../engine/events.js';
import type { RerunOptions } from '../engine/run-options.js';
import type { Progress } from '../events/progress.js';
import type { Job } from '../job.js';
import { withoutPassword } from '../ledger/ledger-location.js';
import type { SharedRunState } from '../ledger/worker-ledger.js';
import { parseDuration } from '../policy/deadline.js';
import { createLogger } from '../observe/logger.js';
import { LogFormat } from '../observe/log-options.js';
import { logEvent, loggedEventTypes, logProgress } from '../observe/run-log.js';
import { logSummary } from '../observe/run-log.js';
import { logWorkerEvent } from './worker-log.js';
import { exitCodeOf, STOP_SIGNALS, type StopSignal } from './exit-codes.js';
import { logSettings } from './log-settings.js';
import { guardExit, logExitedMidRun, quitUnsaved } from './process-exit.js';
import { plainLog, startProgress, type ProgressDisplay } from './progress-display.js';
import type { RunFlags } from './run-command.js';
import { refuseWorkerFlags } from './run-mode.js';

/** How many failures a terminal shows one by one (as run-command.ts). */
const FAILURES_PRINTED = 20;

/** `rerun` (from `rerun --failed … --worker`): the workers share a rerun of those records instead of a run. */
export async function workerCommand(job: Job<any, any>, ledger: string, flags: RunFlags, rerun?: RerunOptions): Promise<number> {
  if (flags.worker === true) refuseWorkerFlags(flags);
  const settings = logSettings(flags, process.env, process.stderr.isTTY === true);
  const progressEveryMs = flags.progressEvery === undefined ? undefined : parseDuration(flags.progressEvery, '--progress-every');
  const shownLedger = flags.pgSchema === undefined ? withoutPassword(ledger) : `${withoutPassword(ledger)} (schema ${flags.pgSchema})`;
  const err = process.stderr;
  let display: ProgressDisplay = plainLog(err);
  const log = createLogger({ ...settings, write: (line) => display.log(line), redact: job.redact, bindings: { job: job.name } });
  let failuresSeen = 0;
  const onEvent = (event: EngineEvent): void => {
    // A chunk's run starting is the worker's `worker:chunk-taken`, not a run of its own.
    if (event.type === 'run:started') return;
    if (event.type === 'record:failed' && ++failuresSeen > FAILURES_PRINTED && settings.format === LogFormat.pretty) return;
    logEvent(log, event, { job: job.name, newLedger: false });
  };
  const live = new LiveProgress(flags.concurrency ?? job.concurrency);
  const showProgress = flags.progress !== false && !flags.quiet && !flags.json;
  const onWorkerEvent = (event: WorkerEvent): void => {
    live.observe(event);
    // Every entry from here on names the run and this worker.
    if (event.type === 'worker:joined') log.setBindings({ runId: event.runId, worker: event.worker });
    logWorkerEvent(log, event, { ledger: shownLedger });
    // From the run's start: while a worker waits for another's plan, there are no figures to show.
    if (event.type === 'worker:joined' && showProgress) {
      display = startProgress(() => live.progress(), err, {
        plainEveryMs: progressEveryMs,
        plain: settings.format === LogFormat.json ? (_line, progress, figures) => logProgress(log, progress, figures) : undefined,
      });
    }
  };
  const stop = new AbortController();
  let signalName: StopSignal | undefined;
  let signals = 0;
  let unguard = (): void => {};
  const onSignal = (signal: StopSignal): void => {
    signals++;
    if (signalName === undefined) {
      log.warn(
        { event: 'run:signal', signal },
        `${signal}: this worker takes no new chunk and stops its records; what it committed is kept, and another worker takes its chunk over`,
      );
    } else if (signals === 2) {
      log.warn({ event: 'run:signal', signal }, `${signal} again: still saving what is recorded; a third time quits without waiting`);
    } else {
      quitUnsaved(log, signal, signalName, unguard);
    }
    signalName ??= signal;
    live.stopping = signal;
    stop.abort(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  let summary: WorkerSummary;
  try {
    const working = runWorker(job, {
      ledger,
      ...(flags.pgSchema === undefined ? {} : { pgSchema: flags.pgSchema }),
      ...(flags.concurrency === undefined ? {} : { concurrency: flags.concurrency }),
      ...(flags.maxFailureRate === undefined ? {} : { maxFailureRate: flags.maxFailureRate }),
      ...(flags.maxFailures === undefined ? {} : { maxFailures: flags.maxFailures }),
      ...(flags.lease === undefined ? {} : { lease: parseLeaseFlag(flags.lease) }),
      ...(flags.recordsPerChunk === undefined ? {} : { recordsPerChunk: flags.recordsPerChunk }),
      ...(rerun === undefined ? {} : { rerun }),
      signal: stop.signal,
      onEvent,
      // What the log writes at its level: a success builds no event then.
      eventTypes: loggedEventTypes(log),
      onWorkerEvent,
    });
    unguard = guardExit(logExitedMidRun(log), working);
    summary = await working;
  } finally {
    display.stop();
    display = plainLog(err);
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
  if (failuresSeen > FAILURES_PRINTED && settings.format === LogFormat.pretty) {
    const more = failuresSeen - FAILURES_PRINTED;
    log.info({ event: 'run:more-failures', more }, `… and ${more} more failures seen by this worker, not shown one by one`);
  }
  logSummary(log, summary);
  if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (!flags.quiet) process.stdout.write(`${describeWorker(summary)}\n`);
  return exitCodeOf(summary.status, signalName);
}

/**
 * The progress a worker shows: the run's figures (all workers, as of the last heartbeat) and this
 * worker's chunk as it goes (in flight, retrying, its breaker).
 */
class LiveProgress {
  private state: SharedRunState | undefined;
  private runId: string | undefined;
  private chunk: (() => Progress) | undefined;
  private readonly startedAtMs = Date.now();
  stopping: string | undefined;

  constructor(private readonly concurrency: number) {}

  observe(event: WorkerEvent): void {
    if (event.type === 'worker:joined') this.runId = event.runId;
    else if (event.type === 'worker:state') this.state = event.state;
    else if (event.type === 'worker:chunk-taken') this.chunk = event.progress;
  }

  progress(): Progress {
    const chunk = this.chunk?.();
    const state = this.state;
    const total = state?.total ?? 0;
    return {
      runId: this.runId,
      read: total,
      inFlight: chunk?.inFlight ?? 0,
      succeeded: state?.succeeded ?? 0,
      failed: state?.failed ?? 0,
      skipped: state?.skipped ?? 0,
      retrying: chunk?.retrying ?? 0,
      alreadyDone: 0,
      retries: chunk?.retries ?? 0,
      attempts: chunk?.attempts ?? 0,
      startedAtMs: this.startedAtMs,
      stopping: this.stopping,
      concurrencyLimit: chunk?.concurrencyLimit ?? this.concurrency,
      breaker: state?.breaker === 'open' ? 'open' : (chunk?.breaker ?? 'closed'),
      careful: chunk?.careful ?? false,
      bytesRead: undefined,
      bytesTotal: undefined,
      sourceExhausted: state !== undefined,
    };
  }
}

/** What a worker prints at its end, without `--json`. */
export function describeWorker(summary: WorkerSummary): string {
  const { shared } = summary;
  return [
    `batchguard worker: ${summary.rerun === undefined ? 'run' : 'rerun'} ${summary.runId} ${summary.status}${summary.abortReason ? ` (${summary.abortReason})` : summary.reason ? ` (${summary.reason})` : ''}`,
    ...(summary.rerun === undefined ? [] : [`  re-running      ${summary.rerun}: ${counted(shared.total, 'selected record')}`]),
    `  this worker     ${counted(summary.records, 'record')}, ${counted(summary.chunksDone, 'chunk')} (${summary.chunksTakenOver} taken over, ${summary.chunksLost} lost)${summary.planned ? ', planned the run' : ''}`,
    `  the run         ${shared.total} records: ${shared.succeeded} succeeded, ${shared.failed} failed, ${shared.skipped} skipped; chunks ${shared.chunksDone} done, ${shared.chunksLeased} leased, ${shared.chunksOpen} open`,
    // A warning may quote keys given in a file (rerun --keys): escaped for the terminal, as the log is.
    ...summary.warnings.map((warning) => `  warning: ${printable(warning)}`),
  ].join('\n');
}
