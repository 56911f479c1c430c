/**
 * A worker's own events (distributed/worker-events.ts) as log entries, beside the engine's events
 * of its chunks (observe/run-log.ts): the run it joined or planned, chunks taken over and lost, the run's
 * abort (its summary at the end is a run's, observe/run-log.ts logSummary). Levels: the run joined
 * and a chunk taken over are `info`; a chunk taken, finished, and waiting for others are `debug`
 * (one per chunk); a chunk lost and a failed heartbeat `warn`; the run aborted `error`.
 */
import type { WorkerEvent } from '../distributed/worker-events.js';
import { thrownMessage } from '../policy/error-fields.js';
import type { Logger } from '../observe/logger.js';

export interface WorkerLogContext {
  /** The ledger as it may be shown: without a password. */
  readonly ledger: string;
}

export function logWorkerEvent(log: Logger, event: WorkerEvent, context: WorkerLogContext): void {
  const e = { event: event.type };
  switch (event.type) {
    case 'worker:joined': {
      const { runId, worker, host, planned, total, chunks } = event;
      // The worker's id is bound to every entry from here on by the caller.
      const fields = { ...e, host, planned, total, chunks, ledger: context.ledger };
      const plan = `${total} records in ${chunks} chunk${chunks === 1 ? '' : 's'}`;
      if (planned) log.info(fields, `planned run ${runId} (${plan}) as worker ${worker} on ${host}; ledger ${context.ledger}`);
      else log.info(fields, `joined run ${runId} (${plan}) as worker ${worker} on ${host}; ledger ${context.ledger}`);
      return;
    }
    case 'worker:chunk-taken': {
      const { chunk, count, takenOver, givenBack } = event;
      if (takenOver) {
        const from = givenBack ? 'a worker that stopped and gave it back' : 'a worker whose lease expired';
        log.info({ ...e, chunk, count, takenOver, givenBack }, `took chunk ${chunk} over (${count} records) from ${from}`);
      } else {
        log.debug({ ...e, chunk, count, takenOver }, `took chunk ${chunk} (${count} records)`);
      }
      return;
    }
    case 'worker:chunk-done': {
      const { chunk, records, takenOver, alreadyRecorded } = event;
      const fields = { ...e, chunk, records, takenOver, alreadyRecorded };
      if (takenOver) {
        // What a takeover may have redone: the records the dead worker had started but not committed
        // are among `records` (at most its records in flight and two batches, docs/workers.md).
        log.info(
          fields,
          `chunk ${chunk} done after its takeover: ${alreadyRecorded} records recorded by the worker before were skipped, ` +
            `${records} given an outcome here (those the worker before had started but not recorded ran again)`,
        );
      } else {
        log.debug(fields, `chunk ${chunk} done (${records} records given an outcome)`);
      }
      return;
    }
    case 'worker:chunk-lost':
      log.warn(
        { ...e, chunk: event.chunk },
        `lost the lease on chunk ${event.chunk} (not renewed in time): another worker takes it over; this worker writes nothing more for it`,
      );
      return;
    case 'worker:waiting':
      log.debug(e, 'nothing to take now: other workers hold the last chunks; waiting for the run to end');
      return;
    case 'worker:heartbeat-failed':
      log.warn(
        { ...e, error: thrownMessage(event.error) },
        `heartbeat failed: ${thrownMessage(event.error)}; every write stays fenced, the leases are renewed at the next heartbeat`,
      );
      return;
    case 'worker:run-aborted':
      log.error(
        { ...e, reason: event.reason, byThisWorker: event.byThisWorker },
        `${event.byThisWorker ? 'aborting the run for every worker' : 'the run was aborted for every worker'}: ${event.reason}`,
      );
      return;
    // The progress entries say it.
    case 'worker:state':
      return;
  }
}
