/**
 * A worker does not join beside a single-process run of its job: both would run the same records.
 */
import { LedgerError } from '../errors.js';
import type { Job } from '../job.js';
import type { WorkerLedger } from '../ledger/worker-ledger.js';

/**
 * Refuses to join while a single-process run of the job holds its ledger (`run --no-worker`, a
 * rerun, a job that cannot be shared): both would run the same records. The check is made before
 * joining; a single-process run makes the same check for a shared run before it takes the ledger.
 */
export async function refuseBesideSingleRun(job: Job<any, any>, workers: WorkerLedger): Promise<void> {
  const holder = await workers.ledger.holder();
  // A holder known to be gone holds nothing: the next single-process run takes its lease at once.
  if (holder === undefined || holder.gone) return;
  throw new LedgerError(
    'LEDGER_LOCKED',
    `job ${job.name} is being run by one process, which a worker cannot join: run ${holder.runId} (pid ${holder.pid} on ${holder.host}, since ${holder.acquiredAt}) ` +
      `holds the ledger ${workers.ledger.location}. Let that run finish (or stop it) and run again`,
  );
}
