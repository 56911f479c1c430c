/**
 * What a SpillingKeyIndex (spilling-key-index.ts) hands its spills at commits to, when it has one:
 * the SQLite ledger's worker thread (ledger/sqlite/key-run-spiller.ts).
 */
import type { SortedRun } from './sorted-run.js';

/**
 * Sorts a full table into a run and merges the newest runs as a spill here would (merge-newest-runs.ts),
 * elsewhere: on a worker thread. One spill at a time.
 */
export interface RunSpiller {
  /** Starts a spill of `slots` (a KeyIndex's shared table, left unchanged until it finished) after `runs`. */
  start(slots: Uint32Array, runs: readonly SortedRun[]): void;
  /**
   * The runs after the spill under way (oldest first: those of `runs` kept, then the new ones), or
   * undefined while it is under way; with `wait`, blocks until it finished. Throws when it failed
   * (then nothing it wrote is left), or when it stopped making progress.
   */
  finished(wait: boolean): SortedRun[] | undefined;
  /** Stops the spill under way, if any (deleting what it wrote), and the thread. */
  close(): void;
}
