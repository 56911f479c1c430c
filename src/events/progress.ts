/**
 * A live view of a run, for progress displays, metrics and alerts: plain numbers read on demand
 * (nothing is computed per record for it).
 */
import type { BreakerState } from '../policy/breaker.js';

/** A live view of a run, for progress displays. */
export interface Progress {
  readonly runId: string | undefined;
  /** Records read from the source, counted from its start (a resume counts what it skipped). */
  readonly read: number;
  readonly inFlight: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Records skipped in this run because a dependency failed. */
  readonly skipped: number;
  /** Records waiting for their next attempt after a failed one. */
  readonly retrying: number;
  readonly alreadyDone: number;
  readonly retries: number;
  /** Handler calls started in this run. */
  readonly attempts: number;
  readonly startedAtMs: number;
  readonly stopping: string | undefined;
  /** How many records may be in flight at once now. */
  readonly concurrencyLimit: number;
  /** @default 'closed' */
  readonly breaker: BreakerState;
  /** Records suspected of crashing an earlier run are running in small groups by themselves. */
  readonly careful: boolean;
  /** The byte offset reached in a file source; undefined for sources without offsets. */
  readonly bytesRead: number | undefined;
  /** The file source's size in bytes; undefined for other sources. */
  readonly bytesTotal: number | undefined;
  /** True once the source has been read to its end: `read` is then the number of records it has. */
  readonly sourceExhausted: boolean;
}

/** The progress of a run whose ledger has not begun it yet: nothing read, nothing done. */
export function idleProgress(runId: string, startedAtMs: number, stopping: string | undefined, concurrencyLimit: number): Progress {
  return {
    runId,
    read: 0,
    inFlight: 0,
    succeeded: 0,
    failed: 0,
    skipped: 0,
    retrying: 0,
    alreadyDone: 0,
    retries: 0,
    attempts: 0,
    startedAtMs,
    stopping,
    concurrencyLimit,
    breaker: 'closed',
    careful: false,
    bytesRead: undefined,
    bytesTotal: undefined,
    sourceExhausted: false,
  };
}
