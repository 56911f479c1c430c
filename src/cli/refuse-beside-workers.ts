/**
 * A single-process run over a PostgreSQL ledger (`run --no-worker`, a rerun, a job that cannot be
 * shared) must not run beside the workers of a shared run of the same job: both would run the same
 * records. It looks for workers on the job before it takes the job's ledger, and refuses with exit
 * code 4 when some hold chunks; a worker makes the same check for a single-process run before it
 * joins (distributed/run-worker.ts). Imported only for such a run: a run over SQLite loads none of it.
 */
import { LedgerError } from '../errors.js';
import type { Job } from '../job.js';
import { openWorkerLedger } from '../ledger/open-worker-ledger.js';
import { NO_WORKER_GIVEN } from './run-mode.js';

export async function refuseBesideWorkers(
  job: Job<any, any>,
  ledger: string,
  pgSchema: string | undefined,
  notWorker: string,
): Promise<void> {
  const workers = openWorkerLedger(ledger, { job: job.name, pgSchema });
  try {
    const active = await workers.activeRun();
    if (active === undefined) return;
    const run =
      active.runId === undefined
        ? 'a worker is planning a shared run of it'
        : `${active.workers} worker${active.workers === 1 ? '' : 's'} hold${active.workers === 1 ? 's' : ''} chunks of its shared run ${active.runId} (${active.chunksDone} of ${active.chunks} chunks done)`;
    throw new LedgerError(
      'LEDGER_LOCKED',
      `job ${job.name} cannot run as one process now: ${run} on the ledger ${workers.ledger.location}, and this run is not a worker because ${notWorker}. ` +
        `Let the shared run finish (or stop its workers) and run again${notWorker === NO_WORKER_GIVEN ? ', or run without --no-worker to join it as a worker' : ''}`,
    );
  } finally {
    await workers.close();
  }
}
