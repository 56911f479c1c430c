/**
 * What a worker of a shared run tells its caller as it goes (runWorker's `onWorkerEvent`): the run
 * it joined, the chunks it takes, finishes and loses, the run's shared state at each heartbeat, and
 * the run's abort. The engine's own events (failures, retries, the breaker) come through `onEvent`,
 * as in a single run. The library never prints: the CLI logs these (cli/worker-log.ts).
 */
import type { Progress } from '../events/progress.js';
import type { SharedRunState } from '../ledger/worker-ledger.js';

export type WorkerEvent =
  | {
      readonly type: 'worker:joined';
      readonly runId: string;
      /** This worker's id in the run (random per process), and its machine. */
      readonly worker: string;
      readonly host: string;
      /** True when this worker planned the run (it read the source and split it). */
      readonly planned: boolean;
      /** Items in the source, as planned, and the chunks they were split into. */
      readonly total: number;
      readonly chunks: number;
    }
  | {
      readonly type: 'worker:chunk-taken';
      readonly chunk: number;
      /** Records in the chunk: its items, or the records it lists (a rerun's selection, a chunk of dependency components). */
      readonly count: number;
      /** True when another worker held it before (it died, or stopped past its lease, or stopped and gave it back). */
      readonly takenOver: boolean;
      /** Taken over from a worker that stopped and gave it back, not one whose lease expired. */
      readonly givenBack: boolean;
      /** The chunk's run as it goes (in flight, retrying, its breaker), for a progress display. */
      readonly progress: () => Progress;
    }
  | {
      readonly type: 'worker:chunk-done';
      readonly chunk: number;
      /** Records this worker gave an outcome in the chunk. */
      readonly records: number;
      /** True when another worker held it before; then `alreadyRecorded` is what that worker recorded. */
      readonly takenOver: boolean;
      /** Records of the chunk recorded before this worker took it (skipped, not run again). */
      readonly alreadyRecorded: number;
    }
  | { readonly type: 'worker:chunk-lost'; readonly chunk: number }
  /** Nothing to take now: other workers hold the last chunks. Once per wait. */
  | { readonly type: 'worker:waiting' }
  /** The run's shared state, read at every heartbeat. */
  | { readonly type: 'worker:state'; readonly state: SharedRunState }
  /** A heartbeat could not reach the database (every write is still fenced). */
  | { readonly type: 'worker:heartbeat-failed'; readonly error: unknown }
  /** The run was aborted for every worker; `byThisWorker` when this worker decided it. Once. */
  | { readonly type: 'worker:run-aborted'; readonly reason: string; readonly byThisWorker: boolean };

export type WorkerEventListener = (event: WorkerEvent) => void;
