/**
 * A live view of a run, for progress displays, metrics and alerts: plain numbers read on demand
 * (nothing is computed per record for it).
 */

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
  /** The adaptive concurrency limit now, with `concurrency: { min, max }`. */
  readonly concurrencyLimit: number | undefined;
  readonly startedAtMs: number;
  readonly stopping: string | undefined;
}

/** The progress of a run whose ledger has not begun it yet: nothing read, nothing done. */
export function idleProgress(runId: string, startedAtMs: number, stopping: string | undefined): Progress {
  return {
    runId,
    read: 0,
    inFlight: 0,
    succeeded: 0,
    failed: 0,
    alreadyDone: 0,
    retries: 0,
    attempts: 0,
    concurrencyLimit: undefined,
    startedAtMs,
    stopping,
  };
}
