/**
 * A run, as its data flows: the source is read by the reader (reader.ts), which asks the selector
 * (selector.ts) which records to process; the dispatcher (dispatcher.ts) decides when each runs
 * (slots, fairness, dependencies, rate limits, the breaker); the executor (record-executor.ts) takes
 * it through its attempts to an outcome; the outcome recorder (outcome-recorder.ts) hands outcomes
 * to the group commit (checkpointer.ts), which writes them to the ledger; events tell the rest.
 * The run is built once the ledger has begun it (run-setup.ts), from parts that exist.
 */

import { randomUUID } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { defineJob, type Job, type JobOptions } from '../job.js';
import { formatValue } from '../validation/check.js';
import { openLedger } from '../ledger/open-ledger.js';
import type { LeaseHolder, ResumeState } from '../ledger/ledger.js';
import { thrownMessage } from '../policy/error-fields.js';
import type { Summary } from '../report/summary.js';
import { watchEscapes } from './escaped-errors.js';
import { EngineEvents } from './events.js';
import { RunControl } from './run-control.js';
import { resolveRunOptions, type RunOptions } from './run-options.js';
import { beginRun, prepareRun } from './run-setup.js';
import { idleProgress, type RunHandle } from './run-handle.js';
import { uncaughtEndsRun } from './uncaught-ending.js';
import { runTracing } from '../observe/tracing.js';
import { Run } from './run.js';
import { isStopOf, stoppedBeforeRecords } from './stopped-early.js';

export type { Progress, RunHandle } from './run-handle.js';

/** Runs a job to its end (or until stopped) and returns its summary. */
export function runJob<T, R>(job: Job<T, R> | JobOptions<T, R>, options: RunOptions = {}): Promise<Summary> {
  return startRun(job, options).done;
}

/** Starts a run and returns a handle to watch and stop it. */
export function startRun<T, R>(given: Job<T, R> | JobOptions<T, R>, options: RunOptions = {}): RunHandle {
  const job = definedJob(given);
  const resolved = resolveRunOptions(job, options);
  const runId = randomUUID();
  const tracing = job.tracing && runTracing(job.tracing, job.name, runId);
  const events = new EngineEvents(
    [
      { name: 'the onEvent run option', listener: resolved.onEvent, types: resolved.eventTypes },
      { name: "the job's onEvent", listener: job.onEvent },
    ],
    tracing ? [tracing] : [],
  );
  const startedAtMs = resolved.clock.now();
  const control = new RunControl(events, resolved.clock, job.shutdownGraceMs);
  let run: Run | undefined;
  const onAbort = (): void => control.stop(String(resolved.signal?.reason ?? 'aborted'));
  resolved.signal?.addEventListener('abort', onAbort, { once: true });
  const escapes = uncaughtEndsRun(control, events, job.redact);
  const execute = async (): Promise<Summary> => {
    if (resolved.signal?.aborted) control.stop(String(resolved.signal.reason ?? 'aborted'));
    const fingerprint = await job.source.fingerprint();
    const { ledger, owned } = openLedger(resolved.ledger, { lease: resolved.lease, job: job.name, pgSchema: resolved.pgSchema });
    try {
      const stoppedEarly = (begun: boolean): Promise<Summary> => {
        const elapsedMs = resolved.clock.now() - startedAtMs;
        return stoppedBeforeRecords({ job, options: resolved, ledger, runId, ending: control.ending, elapsedMs, events, begun });
      };
      const onWait = ({ runId: holder, pid, host, expiresAt }: LeaseHolder): void =>
        events.emit({ type: 'run:waiting', holder: { runId: holder, pid, host, expiresAt } });
      let begun: ResumeState;
      try {
        begun = await beginRun(job, resolved, runId, ledger, fingerprint, { signal: control.signal, onWait });
      } catch (error) {
        // Stopped while waiting for another run's lease: the run never began.
        if (isStopOf(control.signal, error)) return await stoppedEarly(false);
        throw error;
      }
      try {
        const parts = await prepareRun(job, resolved, runId, ledger, begun, fingerprint, control.signal);
        // A run span that does not record makes no attempt spans: the handler is then called directly.
        const runAttempt = tracing?.recording ? tracing.runAttempt : undefined;
        run = new Run(job, resolved, parts, control, events, escapes, startedAtMs, runAttempt);
        return await run.execute();
      } catch (error) {
        if (run === undefined && isStopOf(control.signal, error)) return await stoppedEarly(true);
        await ledger.finish(runId, 'failed', { error: thrownMessage(error) }).catch(() => {});
        throw error;
      }
    } finally {
      resolved.signal?.removeEventListener('abort', onAbort);
      await job.output?.close();
      // A ledger the caller passed in is the caller's to close.
      if (owned) await ledger.close();
    }
  };
  const watched = async (): Promise<Summary> => {
    const unwatch = watchEscapes(escapes, resolved.attributeEscapes);
    let thrown: unknown;
    try {
      if (!tracing) return await execute();
      await tracing.start();
      return await tracing.inRun(execute);
    } catch (error) {
      thrown = error;
      throw error;
    } finally {
      unwatch();
      await tracing?.end(thrown);
    }
  };
  return {
    done: watched(),
    stop: (reason) => control.stop(reason),
    forceStop: (reason) => control.forceStop(reason),
    progress: () => run?.progress() ?? idleProgress(runId, startedAtMs, control.stoppingFor, resolved.concurrency),
  };
}

/**
 * The job to run: one from defineJob as it is, a plain object of job options checked as defineJob
 * checks them (its messages name the field); anything else is refused before anything is opened.
 */
function definedJob<T, R>(given: Job<T, R> | JobOptions<T, R>): Job<T, R> {
  if (given === null || typeof given !== 'object') {
    throw new ConfigError(`runJob needs a job, as defineJob({ name, source, key, handler }) makes; got ${formatValue(given)}`);
  }
  return defineJob(given as JobOptions<T, R>);
}
