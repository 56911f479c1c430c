/**
 * The vocabulary of outcomes, shared by every layer: how a record ended, why it failed, and how a
 * run ended. Values are `as const` objects, so that code can name them and the types stay unions.
 */

/** The end of a record in a run. `pending` is never stored: it is the absence of an outcome. */
export const RecordStatus = { succeeded: 'succeeded', failed: 'failed', skipped: 'skipped' } as const;
export type RecordStatus = (typeof RecordStatus)[keyof typeof RecordStatus];

/** Why a record failed. */
export const FailureKind = {
  fatal: 'fatal',
  exhausted: 'exhausted',
  timeout: 'timeout',
  invalid: 'invalid',
  crashed: 'crashed',
} as const;
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];

/** How a run ended (the summary's `status`; the CLI maps it to an exit code). */
export const RunStatus = {
  completed: 'completed',
  thresholdExceeded: 'threshold-exceeded',
  aborted: 'aborted',
  interrupted: 'interrupted',
  stopped: 'stopped',
  /** An error escaped the job's code and could not be blamed on a running record: stopped, progress saved. */
  uncaughtError: 'uncaught-error',
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];
