/**
 * Which of a job's runs are going on now, as `status`, `runs` and the dashboard show them. The
 * ledger marks a run `running` when it starts and only the next run marks it `crashed` if it died;
 * until then a `running` run is going on only while its process holds the ledger's lease, or, for
 * a shared run (docs/workers.md), while some worker holds a chunk's lease in force. Otherwise every
 * process on it is gone, and it is shown as `crashed`. The leases are the one source of truth for
 * "is it running".
 */
import type { LeaseHolder, Ledger, RunRecord } from '../ledger/ledger.js';
import type { ActiveSharedRun } from '../ledger/worker-ledger.js';

export interface LiveRuns {
  /** The single-process run that holds the ledger's lease, if one does. */
  readonly holder: LeaseHolder | undefined;
  /** The shared run that workers are on (or that one is planning), if any. */
  readonly shared: ActiveSharedRun | undefined;
}

export async function liveRuns(ledger: Ledger): Promise<LiveRuns> {
  const [holder, shared] = await Promise.all([ledger.holder(), ledger.activeSharedRun?.()]);
  return { holder, shared };
}

/** A run's status as it is shown: a `running` run that nothing holds now is `crashed`. */
export function shownStatus(run: Pick<RunRecord, 'runId' | 'status'>, live: LiveRuns): string {
  if (run.status !== 'running') return run.status;
  return live.holder?.runId === run.runId || (live.shared?.runId !== undefined && live.shared.runId === run.runId) ? 'running' : 'crashed';
}
