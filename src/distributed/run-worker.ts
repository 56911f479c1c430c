/**
 * One worker of a shared run over the PostgreSQL ledger: `batchguard run job.ts --ledger
 * postgres://… --worker` on any number of machines. It joins the job's running run (the first
 * worker plans it), then runs the ordinary engine over one leased chunk after another until every
 * chunk is done, or the run is aborted for all.
 *
 * Shared decisions: the outcome counts are the run's, all workers together, and the failure
 * threshold is decided on them at the end; the breaker is the run's (shared-breaker-link.ts): a
 * worker's trip opens it for all, one worker at a time probes, its close closes it for all; a worker
 * whose breaker gives up (its chunk's run ends `aborted`) aborts the run for every worker, which all
 * see at their next heartbeat and stop.
 */
import { hostname } from 'node:os';
import { ConfigError, LedgerError } from '../errors.js';
import type { Job } from '../job.js';
import { startRun } from '../engine/run-job.js';
import { decide, pendingOf } from './shared-run-ending.js';
import { failureRate } from '../report/summary.js';
import type { EventListener } from '../engine/events.js';
import type { RunOptions } from '../engine/run-options.js';
import { resolveLeaseOptions, type LeaseOptions, type ResolvedLeaseOptions } from '../ledger/lease.js';
import { openWorkerLedger } from '../ledger/open-worker-ledger.js';
import type { ChunkPlan, LeasedChunk, SharedRunState, WorkerLedger } from '../ledger/worker-ledger.js';
import type { RerunOptions } from '../engine/run-options.js';
import { assertSplittable, DEFAULT_RECORDS_PER_CHUNK, planChunks } from './chunk-plan.js';
import { readMemberKeys } from './chunk-keys.js';
import { planComponentChunks } from './component-chunk-plan.js';
import { planRerunChunks, rerunIdentity } from './rerun-chunk-plan.js';
import { shareBlocker } from './shareable.js';
import type { WorkerEvent, WorkerEventListener } from './worker-events.js';
import { ChunkLedger } from './chunk-ledger.js';
import { chunkSource } from './chunk-source.js';
import { SharedBreakerLink } from './shared-breaker-link.js';
import { formatKeySample } from '../report/key-lines.js';
import { refuseBesideSingleRun } from './single-run-guard.js';
import { WorkerSession } from './worker-session.js';

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  /** The PostgreSQL ledger, `postgres://…`. */
  readonly ledger: string;
  /** @default 'batchguard' */
  readonly pgSchema?: string;
  /** @default the job's concurrency */
  readonly concurrency?: number;
  /** @default the job's maxFailureRate */
  readonly maxFailureRate?: number;
  /** @default the job's maxFailures */
  readonly maxFailures?: number;
  /** A chunk's lease: how long without a heartbeat before another worker takes it over. @default 15 s, renewed every 5 s */
  readonly lease?: LeaseOptions;
  /** Records per chunk, when this worker plans the run. @default 10000 */
  readonly recordsPerChunk?: number;
  /**
   * A shared rerun: the workers re-run the records this selects (as `rerun --failed` does), fixed
   * when the rerun is planned. Undefined for a run.
   */
  readonly rerun?: RerunOptions;
  readonly signal?: AbortSignal;
  /** The engine's events of every chunk this worker runs (failures, retries, the breaker), as a single run's. */
  readonly onEvent?: EventListener;
  /** The engine event types `onEvent` wants (an event nobody wants is not built). @default every type */
  readonly eventTypes?: RunOptions['eventTypes'];
  /** The worker's own events: the run joined, chunks taken, done and lost, the shared state, an abort. */
  readonly onWorkerEvent?: WorkerEventListener;
}

/** How the shared run ended, as this worker saw it. */
export type WorkerStatus = 'completed' | 'threshold-exceeded' | 'aborted' | 'interrupted';

/**
 * What one worker did, and the run's shared state at its end. The run's figures are also at the
 * top level under the names of a single run's summary (`total`, `succeeded`, `failed`, `skipped`,
 * `pending`, `failureRate`), so that a script reads a worker's `--json` summary as a single run's.
 */
export interface WorkerSummary {
  readonly job: string;
  readonly runId: string;
  readonly status: WorkerStatus;
  /** The run's figures, all workers together: `shared`'s, with `pending` the records not yet given an outcome in this run. */
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly pending: number;
  /** Failed over succeeded and failed (skipped records aside), as a single run's summary. */
  readonly failureRate: number;
  /** This worker's id in the run (random per process) and its machine. */
  readonly worker: string;
  readonly host: string;
  /** True for the worker that planned the run. */
  readonly planned: boolean;
  /** Chunks this worker finished, and of those, the ones it took over from another worker. */
  readonly chunksDone: number;
  readonly chunksTakenOver: number;
  /** Chunks this worker lost (its lease expired while it worked: stopped, or cut off). */
  readonly chunksLost: number;
  /** Records this worker gave an outcome. */
  readonly records: number;
  readonly shared: SharedRunState;
  readonly abortReason: string | undefined;
  /** Why a run over ended so, as a single run's summary says it (engine/run-status.ts); undefined for an aborted or interrupted one. */
  readonly reason: string | undefined;
  /** A shared rerun: what it selects (the same for every worker of it); undefined for a run. */
  readonly rerun: string | undefined;
  /** What the user should know (a rerun's `--keys` that selected nothing), said by the worker that planned. */
  readonly warnings: readonly string[];
}

/** How often a worker with nothing to lease looks again (other workers hold the last chunks). */
const IDLE_POLL_MS = 200;

/**
 * Runs `job` as one worker of its shared run. Resolves when the run ended for all (every chunk
 * done, or aborted) or this worker was interrupted (`signal`).
 *
 * @throws {ConfigError} for a job workers cannot share (an output file, a source that cannot seek)
 *   or a ledger that is not PostgreSQL.
 */
export async function runWorker(job: Job<any, any>, options: WorkerOptions): Promise<WorkerSummary> {
  const lease = resolveLeaseOptions(options.lease);
  // First, so that a ledger that is not PostgreSQL is the error named whatever else is wrong.
  const workers = openWorkerLedger(options.ledger, { job: job.name, pgSchema: options.pgSchema, lease });
  try {
    assertShareable(job);
    return await work(job, options, workers, lease);
  } finally {
    await workers.close();
  }
}

/** Throws the ConfigError of a job that workers cannot share. */
function assertShareable(job: Job<any, any>): void {
  const blocker = shareBlocker(job);
  if (blocker === undefined) return;
  // The source's own message, as planning would throw it.
  if (blocker.field === 'source') assertSplittable(job.source);
  throw new ConfigError(`${blocker.why}; run it as one process (without --worker)`, { field: blocker.field });
}

async function work(
  job: Job<any, any>,
  options: WorkerOptions,
  workers: WorkerLedger,
  lease: ResolvedLeaseOptions,
): Promise<WorkerSummary> {
  const maxFailureRate = options.maxFailureRate ?? job.maxFailureRate;
  const maxFailures = options.maxFailures ?? job.maxFailures;
  let current: { lease: LeasedChunk; stop: AbortController } | undefined;
  let abortedBy: string | undefined;
  let lost = 0;
  const rerun = options.rerun === undefined ? undefined : rerunIdentity(options.rerun);
  const warnings: string[] = [];
  const plan = async (): Promise<ChunkPlan> => {
    const perChunk = options.recordsPerChunk === undefined ? {} : { recordsPerChunk: options.recordsPerChunk };
    const reading = { ...perChunk, ...(options.signal ? { signal: options.signal } : {}) };
    if (options.rerun === undefined && job.dependsOn !== undefined) {
      const planned = await planComponentChunks(job, reading);
      if (planned.largestComponent > (options.recordsPerChunk ?? DEFAULT_RECORDS_PER_CHUNK)) {
        warnings.push(
          `${planned.largestComponent} of the ${planned.plan.total} records are one component of the dependency graph (dependsOn): ` +
            'one worker runs them all, in one chunk',
        );
      }
      return planned.plan;
    }
    if (options.rerun === undefined) return planChunks(job.source, reading);
    const planned = await planRerunChunks(workers.ledger, options.rerun, { ...reading, job });
    const { keysNotSelected: left } = planned;
    if (left.length > 0) {
      warnings.push(
        `${left.length} of the keys given are not among the failed records (they succeeded, were never processed, or are not in the source), left alone: ${formatKeySample(left)}`,
      );
    }
    return planned.plan;
  };
  // Set once the session has joined; the heartbeat passes the shared state on from then on.
  let breaker: SharedBreakerLink | undefined = undefined;
  const emit = (event: WorkerEvent): void => options.onWorkerEvent?.(event);
  let abortSaid = false;
  const sayAborted = (reason: string, byThisWorker: boolean): void => {
    if (abortSaid) return;
    abortSaid = true;
    emit({ type: 'worker:run-aborted', reason, byThisWorker });
  };
  await refuseBesideSingleRun(job, workers);
  const session = await WorkerSession.join(
    {
      ledger: workers,
      leaseMs: lease.expireMs,
      renewEveryMs: lease.renewEveryMs,
      onLost: (chunk) => {
        lost++;
        emit({ type: 'worker:chunk-lost', chunk });
        if (current?.lease.chunk.index === chunk) current.stop.abort(new Error(`lost the lease on chunk ${chunk}`));
      },
      onState: (state, sentAtMs) => {
        if (state.status === 'aborted') {
          sayAborted(state.abortReason ?? 'the run was aborted', false);
          current?.stop.abort(new Error(state.abortReason ?? 'the run was aborted'));
        }
        breaker?.observe(state, sentAtMs);
        emit({ type: 'worker:state', state });
      },
      ...(rerun === undefined ? {} : { rerun }),
      onHeartbeatError: (error) => emit({ type: 'worker:heartbeat-failed', error }),
    },
    plan,
    { worker: true, concurrency: options.concurrency ?? job.concurrency, maxFailureRate, maxFailures, rerun: rerun ?? null },
  );
  const host = hostname();
  breaker = new SharedBreakerLink({
    ledger: workers,
    runId: session.run.runId,
    owner: session.owner,
    worker: `worker ${session.owner} on ${host}`,
    slackMs: lease.expireMs,
  });
  const { runId, planned, total, chunks } = session.run;
  emit({ type: 'worker:joined', runId, worker: session.owner, host, planned, total, chunks });
  let done = 0;
  let takenOver = 0;
  let records = 0;
  let waiting = false;
  // The last commit of the chunk before, on its way (ChunkLedger.closing): resolves once written or lost, rejects with the database's error.
  let closing: Promise<void> | undefined;
  const closed = async (): Promise<void> => {
    const was = closing;
    closing = undefined;
    await was;
  };
  try {
    for (;;) {
      if (options.signal?.aborted) return await end('interrupted');
      const next = await session.next();
      // Nothing to lease may be only this worker's chunk still closing: once it closed, ask again.
      if (next.kind === 'wait' && closing !== undefined) {
        await closed();
        continue;
      }
      if (next.kind === 'ended') {
        if (next.state.status === 'aborted')
          sayAborted(next.state.abortReason ?? abortedBy ?? 'the run was aborted', abortedBy !== undefined);
        // A rerun's thresholds are a single rerun's: on the job's counts, which its outcomes changed.
        const decided =
          next.state.status === 'aborted'
            ? undefined
            : decide(rerun === undefined ? next.state : await workers.ledger.counts(), maxFailureRate, maxFailures);
        // Every worker that sees the run end records it (the first record stays); end() waits for its chunk.
        return await end(decided?.status ?? 'aborted', decided?.reason);
      }
      if (next.kind === 'wait') {
        if (!waiting) emit({ type: 'worker:waiting' });
        waiting = true;
        await new Promise((resolve) => setTimeout(resolve, Math.min(IDLE_POLL_MS, lease.renewEveryMs)));
        continue;
      }
      waiting = false;
      const stop = new AbortController();
      const onOuterAbort = (): void => stop.abort(options.signal?.reason);
      options.signal?.addEventListener('abort', onOuterAbort, { once: true });
      current = { lease: next.lease, stop };
      const leased = next.lease.chunk;
      const ledger = new ChunkLedger({
        base: workers.ledger,
        session,
        lease: next.lease,
        ...(closing ? { previous: closing } : {}),
        ...(leased.members === undefined ? {} : { memberKeys: () => readMemberKeys(job, leased, stop.signal) }),
      });
      try {
        const chunkRun = startRun(
          { ...job, source: chunkSource(job.source, next.lease.chunk) },
          {
            ledger,
            ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
            // The thresholds are the run's, decided on every worker's outcomes at the end.
            maxFailureRate: 1,
            maxFailures: Number.MAX_SAFE_INTEGER,
            signal: stop.signal,
            lease,
            sharedBreaker: breaker,
            // The chunk ledger gives the records (its chunk's selection), the engine re-runs them.
            ...(options.rerun === undefined ? {} : { rerun: options.rerun }),
            ...(options.onEvent ? { onEvent: options.onEvent } : {}),
            ...(options.eventTypes ? { eventTypes: options.eventTypes } : {}),
          },
        );
        const { chunk, takenOver: isTakeover, givenBack } = next.lease;
        emit({
          type: 'worker:chunk-taken',
          chunk: chunk.index,
          count: chunk.selected?.length ?? chunk.members?.length ?? chunk.count,
          takenOver: isTakeover,
          givenBack,
          progress: () => chunkRun.progress(),
        });
        const summary = await chunkRun.done;
        const chunkRecords = summary.thisRun.succeeded + summary.thisRun.failed + summary.thisRun.skipped;
        records += chunkRecords;
        if (rerun !== undefined) {
          // Selected records found elsewhere than the ledger recorded them (the source changed) are said.
          warnings.push(...summary.warnings);
          if (summary.status === 'completed' && !stop.signal.aborted) await ledger.finishRerun();
        }
        const chunkDone = (): void => {
          done++;
          if (next.lease.takenOver) takenOver++;
          emit({
            type: 'worker:chunk-done',
            chunk: next.lease.chunk.index,
            records: chunkRecords,
            takenOver: next.lease.takenOver,
            alreadyRecorded: summary.alreadyDone,
          });
        };
        if (ledger.closing !== undefined) {
          await closed();
          // A lost lease was counted lost when the write was refused (onLost); the database's error is the worker's.
          closing = ledger.closing.then(chunkDone, (error: unknown) => {
            if (!(error instanceof LedgerError && error.code === 'LEDGER_LEASE_LOST')) throw error;
          });
          void closing.catch(() => {});
        } else if (ledger.done) chunkDone();
        else if (summary.status === 'aborted' && !stop.signal.aborted) {
          // This worker's breaker gave up: a systemic outage is every worker's. The shared breaker
          // makes every worker give up at about the same time; the first to say so decides.
          const reason = `worker ${session.owner} on ${host}: ${summary.reason ?? 'the breaker stayed open'}`;
          if (await workers.abortRun(session.run.runId, reason)) {
            abortedBy = reason;
            sayAborted(reason, true);
          }
        }
      } catch (error) {
        if (error instanceof LedgerError && error.code === 'LEDGER_LEASE_LOST') continue;
        // A configuration error met in the data (a dependency cycle) is every worker's: the chunk
        // can never be done, so the run is aborted for all, and this worker exits with the error.
        if (error instanceof ConfigError) {
          const reason = `worker ${session.owner} on ${host}: ${error.message}`;
          if (await workers.abortRun(session.run.runId, reason).catch(() => false)) {
            abortedBy = reason;
            sayAborted(reason, true);
            await workers.recordRunEnd(session.run.runId, 'aborted', { status: 'aborted', reason }).catch(() => undefined);
          }
        }
        throw error;
      } finally {
        options.signal?.removeEventListener('abort', onOuterAbort);
        current = undefined;
      }
    }
  } finally {
    await closing?.catch(() => {});
    await session.close();
  }

  async function end(status: WorkerStatus, reason?: string): Promise<WorkerSummary> {
    await closed();
    const shared = (await session.state()) as SharedRunState;
    if (status !== 'interrupted')
      await workers.recordRunEnd(session.run.runId, status, { status, reason: reason ?? shared.abortReason, shared });
    return {
      job: job.name,
      runId: session.run.runId,
      status,
      total: shared.total,
      succeeded: shared.succeeded,
      failed: shared.failed,
      skipped: shared.skipped,
      pending: status === 'completed' || status === 'threshold-exceeded' ? 0 : pendingOf(shared),
      failureRate: failureRate(shared),
      worker: session.owner,
      host,
      planned: session.run.planned,
      chunksDone: done,
      chunksTakenOver: takenOver,
      chunksLost: lost,
      records,
      shared,
      abortReason: shared.abortReason ?? abortedBy,
      reason,
      rerun,
      warnings,
    };
  }
}
