/**
 * How a shared run ended once every chunk is done, decided on all workers' outcomes together.
 */
import { decideStatus } from '../engine/run-status.js';
import type { SharedRunState } from '../ledger/worker-ledger.js';
import type { WorkerStatus } from './run-worker.js';

/**
 * The run's ending once every chunk is done: the thresholds on all workers' outcomes, decided as a
 * single run's are (the same function, so the failure rate is the summary's: failed over succeeded
 * and failed, skipped records aside).
 */
export function decide(
  state: Pick<SharedRunState, 'total' | 'succeeded' | 'failed' | 'skipped'>,
  maxFailureRate: number,
  maxFailures: number,
): { status: WorkerStatus; reason: string } {
  const { total, succeeded, failed, skipped } = state;
  // Every chunk is done, so every record has an outcome: a record without one of this run's (the
  // state counts only those) had one before it, and its chunk skipped it. Nothing is pending.
  const counts = { total, succeeded, failed, skipped, pending: 0, sourceExhausted: true };
  const { status, reason } = decideStatus({ ending: undefined, counts, maxFailures, maxFailureRate });
  // Without an early ending, only these two.
  return { status: status === 'threshold-exceeded' ? 'threshold-exceeded' : 'completed', reason };
}

/**
 * The run's records without an outcome in it yet: while chunks are open, those still to do and
 * those done before the run (which its chunks skip); none once every chunk is done (`decide`).
 */
export function pendingOf(state: Pick<SharedRunState, 'total' | 'succeeded' | 'failed' | 'skipped'>): number {
  return Math.max(0, state.total - state.succeeded - state.failed - state.skipped);
}
