/**
 * The spilling key index's merge policy (spilling-key-index.ts), shared by a spill on the main
 * thread and one on a worker (ledger/sqlite/key-run-spill-worker.ts), so both leave the same runs.
 */
import { mergeRuns, type RunStore, type SortedRun } from './sorted-run.js';

/**
 * Merges the newest two of `runs` (oldest first) while the older is at most twice the newer: sizes
 * stay roughly doubling, like a binary counter, so a lookup reads few runs. Replaces them in `runs`
 * and calls `merged` with each run merged away (after its replacement is written).
 */
export function mergeNewestRuns(runs: SortedRun[], store: RunStore, merged: (run: SortedRun) => void): void {
  for (let n = runs.length; n >= 2 && runs[n - 2]!.entries <= 2 * runs[n - 1]!.entries; n--) {
    const older = runs[n - 2]!;
    const newer = runs[n - 1]!;
    runs.splice(n - 2, 2, mergeRuns(older, newer, store));
    merged(older);
    merged(newer);
  }
}
