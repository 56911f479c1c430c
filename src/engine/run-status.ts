/**
 * How a run ended, decided from why it stopped and the job's counts, and what to run next.
 */
import { counted } from '../domain/counted.js';
import { FailureKind, RunStatus } from '../domain/status.js';
import type { Ledger, LedgerCounts } from '../ledger/ledger.js';
import { failureRate } from '../report/summary.js';
import type { RunEnding } from './run-ending.js';

export interface StatusInput {
  /** Why the run ended early, if it did (an ending that throws never gets here). */
  readonly ending: RunEnding | undefined;
  readonly counts: LedgerCounts;
  readonly maxFailures: number;
  readonly maxFailureRate: number;
}

export function decideStatus(input: StatusInput): { status: RunStatus; reason: string } {
  const { counts, ending } = input;
  switch (ending?.kind) {
    case 'uncaught':
      return {
        status: RunStatus.uncaughtError,
        reason: `${ending.reason}; what finished is saved, ${counted(counts.pending, 'record')} left pending; run again to go on`,
      };
    case 'aborted':
      return { status: RunStatus.aborted, reason: ending.reason };
    case 'deadline': {
      const rest = counts.sourceExhausted
        ? `${counted(counts.pending, 'record')} left pending`
        : `${counts.pending} read records left pending, and the rest of the source not read yet`;
      return { status: RunStatus.stopped, reason: `${ending.description}; ${rest}; run again to go on` };
    }
    case 'stopped':
      return { status: RunStatus.interrupted, reason: `stopped by ${ending.reason}; ${counted(counts.pending, 'record')} left pending` };
    case 'source-failed':
    case 'config-error':
    case 'ledger-failed':
    case undefined:
      break;
  }
  if (counts.failed > input.maxFailures) {
    return { status: RunStatus.thresholdExceeded, reason: `${recordsFailed(counts.failed)}, more than maxFailures ${input.maxFailures}` };
  }
  const rate = failureRate(counts);
  if (rate > input.maxFailureRate) {
    return {
      status: RunStatus.thresholdExceeded,
      reason: `failure rate ${(rate * 100).toFixed(2)}% is above maxFailureRate ${(input.maxFailureRate * 100).toFixed(2)}%`,
    };
  }
  const withinThresholds = counts.failed > 0 ? `${recordsFailed(counts.failed)}, within the thresholds` : undefined;
  const unfinished = unfinishedPart(counts);
  if (unfinished === undefined) return { status: RunStatus.completed, reason: withinThresholds ?? 'every record succeeded' };
  // A re-run does only its selection: the rest of the job is left to `run`.
  return {
    status: RunStatus.completed,
    reason: `${withinThresholds ?? 'no record failed'}, but the job is not finished: ${unfinished}; \`run\` goes on`,
  };
}

/** What of the job is left to do (records pending, the source not read to its end), or undefined when nothing is. */
function unfinishedPart(counts: LedgerCounts): string | undefined {
  const parts = [
    ...(counts.pending > 0 ? [`${counted(counts.pending, 'record')} pending`] : []),
    ...(counts.sourceExhausted ? [] : ['the source not read to its end']),
  ];
  return parts.length > 0 ? parts.join(', and ') : undefined;
}

function recordsFailed(count: number): string {
  return `${counted(count, 'record')} failed`;
}

/**
 * Failure kinds that a plain re-run can turn into successes: the service was slow or failing at the
 * time. `fatal`, `invalid` and `crashed` are permanent: the same handler on the same record fails
 * the same way, so a re-run only helps after the data or the handler changed.
 */
export const TRANSIENT_KINDS: readonly FailureKind[] = [FailureKind.exhausted, FailureKind.timeout];

/** Whether any failed record has a transient kind (stops at the first one found). */
export async function hasTransientFailures(ledger: Pick<Ledger, 'rows'>): Promise<boolean> {
  for (const kind of TRANSIENT_KINDS) {
    for await (const _row of ledger.rows({ statuses: ['failed'], kind })) return true;
  }
  return false;
}

export interface NextInput {
  readonly status: RunStatus;
  readonly counts: LedgerCounts;
  readonly jobFile: string;
  readonly ledgerFlag: string | undefined;
  /** `batchguard` or `npx batchguard`. */
  readonly command: string;
  /** Whether some failures may succeed on a plain re-run (see TRANSIENT_KINDS). */
  readonly transientFailures: boolean;
}

/**
 * The command to type next, when one applies: `run` to go on after a stop or a re-run that left the
 * job unfinished (records pending, the source not read to its end), `rerun --failed` when
 * failures may pass on a second try, and `failures` (to see what to fix) when every failure is
 * permanent and a re-run would only repeat them.
 */
export function nextCommand(input: NextInput): string | undefined {
  const suffix = input.ledgerFlag ? ` --ledger ${input.ledgerFlag}` : '';
  const { status, command, jobFile } = input;
  if (
    status === RunStatus.interrupted ||
    status === RunStatus.stopped ||
    status === RunStatus.aborted ||
    status === RunStatus.uncaughtError ||
    unfinishedPart(input.counts) !== undefined
  )
    return `${command} run ${jobFile}${suffix}`;
  if (input.counts.failed === 0) return undefined;
  return input.transientFailures ? `${command} rerun ${jobFile} --failed${suffix}` : `${command} failures ${jobFile}${suffix}`;
}
