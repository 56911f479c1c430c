/**
 * How a run ended, decided from why it stopped and the job's counts, and what to run next.
 */
import type { LedgerCounts } from '../ledger/ledger.js';
import { failureRate, RunStatus } from '../report/summary.js';

export interface StatusInput {
  /** Why the run stopped for an error that escaped the job's code (escaped-errors.ts). */
  readonly uncaughtReason?: string | undefined;
  readonly abortReason: string | undefined;
  readonly stopReason: string | undefined;
  readonly deadlineReason: string | undefined;
  readonly counts: LedgerCounts;
  readonly maxFailures: number;
  readonly maxFailureRate: number;
}

export function decideStatus(input: StatusInput): { status: RunStatus; reason: string } {
  const { counts } = input;
  if (input.uncaughtReason !== undefined) {
    return { status: RunStatus.uncaughtError, reason: `${input.uncaughtReason}; what finished is saved, ${counts.pending} records left pending; run again to go on` };
  }
  if (input.abortReason !== undefined) return { status: RunStatus.aborted, reason: input.abortReason };
  if (input.deadlineReason !== undefined) {
    const rest = counts.sourceExhausted ? `${counts.pending} records left pending` : `${counts.pending} read records left pending, and the rest of the source not read yet`;
    return { status: RunStatus.stopped, reason: `${input.deadlineReason}; ${rest}; run again to go on` };
  }
  if (input.stopReason !== undefined) {
    return { status: RunStatus.interrupted, reason: `stopped by ${input.stopReason}; ${counts.pending} records left pending` };
  }
  if (counts.failed > input.maxFailures) {
    return { status: RunStatus.thresholdExceeded, reason: `${counts.failed} records failed, more than maxFailures ${input.maxFailures}` };
  }
  const rate = failureRate(counts);
  if (rate > input.maxFailureRate) {
    return {
      status: RunStatus.thresholdExceeded,
      reason: `failure rate ${(rate * 100).toFixed(2)}% is above maxFailureRate ${(input.maxFailureRate * 100).toFixed(2)}%`,
    };
  }
  return { status: RunStatus.completed, reason: counts.failed > 0 ? `${counts.failed} records failed, within the thresholds` : 'every record succeeded' };
}

/** The command that resumes or re-runs, when one applies. */
export function nextCommand(status: RunStatus, counts: LedgerCounts, jobFile: string, ledgerFlag: string | undefined): string | undefined {
  const suffix = ledgerFlag ? ` --ledger ${ledgerFlag}` : '';
  if (status === RunStatus.interrupted || status === RunStatus.stopped || status === RunStatus.aborted || status === RunStatus.uncaughtError) return `batchguard run ${jobFile}${suffix}`;
  if (counts.failed > 0) return `batchguard rerun ${jobFile} --failed${suffix}`;
  return undefined;
}
