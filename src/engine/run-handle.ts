/** What a caller of `startRun` holds: the handle to watch and stop a run, and its live progress. */
import type { Summary } from '../report/summary.js';

/** A live view of a run, for progress displays. */
export interface Progress {
  readonly runId: string | undefined;
  readonly read: number;
  readonly inFlight: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly alreadyDone: number;
  readonly retries: number;
  /** Handler calls started in this run. */
  readonly attempts: number;
  readonly startedAtMs: number;
  readonly stopping: string | undefined;
}

/** A run in progress. */
export interface RunHandle {
  /** Resolves with the summary when the run has ended and its progress is committed. */
  readonly done: Promise<Summary>;
  /** Stops intake; in-flight records get the job's `shutdownGraceMs` to finish, then are aborted (they stay pending). */
  stop(reason: string): void;
  /** Stops at once: in-flight records are abandoned (they stay pending) and what is recorded is committed. */
  forceStop(reason: string): void;
  progress(): Progress;
}

/** The progress of a run whose ledger has not begun it yet: nothing read, nothing done. */
export function idleProgress(runId: string, startedAtMs: number, stopping: string | undefined): Progress {
  return { runId, read: 0, inFlight: 0, succeeded: 0, failed: 0, alreadyDone: 0, retries: 0, attempts: 0, startedAtMs, stopping };
}
