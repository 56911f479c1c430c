/** What a caller of `startRun` holds: the handle to watch and stop a run, and its live progress. */
import type { Summary } from '../report/summary.js';
import type { Progress } from '../events/progress.js';

export { idleProgress, type Progress } from '../events/progress.js';

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
