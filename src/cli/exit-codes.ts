/**
 * Exit codes: the public contract (docs/cli.md). Scripts and schedulers rely on them.
 */
import type { Summary } from '../report/summary.js';

export const ExitCode = {
  /** The run finished; failures within the threshold. */
  ok: 0,
  /** The run finished; the failure threshold was exceeded. Resumable with `rerun --failed`. */
  thresholdExceeded: 1,
  /** Usage or configuration error; nothing was processed. */
  usage: 2,
  /** Aborted: the health check failed or the breaker did not recover. Resumable with `run`. */
  aborted: 3,
  /**
   * The ledger is held by another run, this run lost its lease, or storage failed: a full disk, a
   * damaged, emptied or deleted ledger or key file, an I/O error. What was committed is intact.
   */
  ledger: 4,
  /** Stopped at its deadline. Resumable with `run`. */
  deadline: 5,
  /**
   * Stopped because an error escaped the job's code (a throw in a timer callback, an unhandled
   * rejection) and no running record could be blamed. Progress is saved. Resumable with `run`.
   */
  uncaughtError: 6,
  /**
   * The process was exited (`process.exit()` in the job's code) while the run was unfinished: no
   * summary, and what was not committed is redone. Resumable with `run`; the records in flight
   * count as having crashed (crash quarantine).
   */
  exitedMidRun: 7,
  /** An internal error: a bug in batchguard, never mistaken for a threshold (1) or a usage error (2). */
  internal: 70,
  /**
   * Interrupted by SIGHUP after saving progress: the terminal or session the run was started from
   * went away. Resumable with `run`.
   */
  sighup: 129,
  /** Interrupted by SIGINT (Ctrl-C) after saving progress. Resumable with `run`. */
  sigint: 130,
  /** Interrupted by SIGTERM after saving progress. Resumable with `run`. */
  sigterm: 143,
} as const;
/**
 * The signals that stop a run gracefully (no new records, the running ones finish, what is recorded
 * is saved), the second one of them at once.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** One of the values of {@link ExitCode}. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code of a run (or of a worker's share of one) that ended with `status`. */
export function exitCodeOf(status: Summary['status'], signal: StopSignal | undefined): number {
  switch (status) {
    case 'completed':
      return ExitCode.ok;
    case 'threshold-exceeded':
      return ExitCode.thresholdExceeded;
    case 'aborted':
      return ExitCode.aborted;
    case 'stopped':
      return ExitCode.deadline;
    case 'interrupted':
      return signal === 'SIGTERM' ? ExitCode.sigterm : signal === 'SIGHUP' ? ExitCode.sighup : ExitCode.sigint;
    case 'uncaught-error':
      return ExitCode.uncaughtError;
  }
}
