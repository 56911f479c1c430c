/**
 * Which of a job's runs are going on now, as `status`, `runs` and the dashboard show them. The
 * ledger marks a run `running` when it starts and only the next run marks it `crashed` if it died;
 * until then a `running` run is going on only while its process holds the ledger's lease (and is not
 * known to be gone: `LeaseHolder.gone`, its lock free, which lets the next run take over at once), or, for
 * a shared run (docs/workers.md), while some worker holds a chunk's lease in force; otherwise its
 * process is gone, and it is shown as `crashed`. A shared run that no worker is on any more is
 * `crashed` when a worker died on it (a chunk is still leased, its lease expired), and
 * `interrupted` when they all stopped (a stopped worker gives its chunks back): either goes on when
 * a worker joins it. The leases are the one source of truth for "is it running".
 */
import type { LeaseHolder, Ledger, RunRecord } from '../ledger/ledger.js';
import type { ActiveSharedRun } from '../ledger/worker-ledger.js';

export interface LiveRuns {
  /** The single-process run that holds the ledger's lease, if one does and its process is alive. */
  readonly holder: LeaseHolder | undefined;
  /** The run whose lease is in force but whose process is known to be gone (`LeaseHolder.gone`). */
  readonly died: LeaseHolder | undefined;
  /** The job's running shared run (or the one being planned), workers on it or not. */
  readonly shared: ActiveSharedRun | undefined;
}

export async function liveRuns(ledger: Ledger): Promise<LiveRuns> {
  const [lease, shared] = await Promise.all([ledger.holder(), ledger.sharedRun?.()]);
  return lease?.gone ? { holder: undefined, died: lease, shared } : { holder: lease, died: undefined, shared };
}

/** A run's status as it is shown (the file's comment says why). */
export function shownStatus(run: Pick<RunRecord, 'runId' | 'status'>, live: LiveRuns): string {
  if (run.status !== 'running' || live.holder?.runId === run.runId) return run.status;
  const shared = live.shared;
  if (shared?.runId !== undefined && shared.runId === run.runId) {
    return shared.workers > 0 ? 'running' : shared.abandoned > 0 ? 'crashed' : 'interrupted';
  }
  return 'crashed';
}

/** The shared run that workers are on now (or that one is planning), if any. */
export function activeSharedRun(live: LiveRuns): LiveRuns['shared'] {
  return live.shared !== undefined && live.shared.workers > 0 ? live.shared : undefined;
}
