/**
 * The PostgreSQL ledger's side of a shared run (../../worker-ledger.ts): the worker tables and the
 * SQL of this folder, and the job's own PostgreSQL ledger, whose tables the workers' outcomes land
 * in. Nothing is created before the first call; then the job's ledger makes its schema and the
 * job's row, and the worker tables are created beside them.
 */
import { hostname } from 'node:os';
import { LedgerError } from '../../../errors.js';
import type { ResolvedLeaseOptions } from '../../lease.js';
import type { Ledger, SeqRange } from '../../ledger.js';
import type {
  ActiveSharedRun,
  ChunkPlan,
  FencedWrites,
  HeldChunk,
  JoinedRun,
  JoinRequest,
  LeasedChunk,
  SharedRunState,
  WorkerLedger,
} from '../../worker-ledger.js';
import { readActiveRun } from '../active-shared-run.js';
import { loadPg } from '../load-pg.js';
import { databaseFault, PgDb } from '../pg-db.js';
import { PostgresLedger } from '../postgres-ledger.js';
import { resolvePostgresTarget } from '../postgres-location.js';
import { sessionEnded } from '../session-ended.js';
import { stepsSql } from '../sql/steps.js';
import {
  finishedIn,
  jobIdOf,
  recordedByRun,
  recordPlannedRun,
  recordRunEnd,
  storeKeyEntries,
  writeChunkOutcomes,
} from './chunk-outcomes.js';
import { createWorkerTables } from './create-worker-tables.js';
import { fencedWrite, markChunkDone } from './fenced-write.js';
import { joinRun } from './join-run.js';
import { leaseChunk } from './lease-chunk.js';
import { releaseLeases, renewLeases } from './renew-leases.js';
import { abortRun, completeRun, readRunState } from './run-state.js';
import { claimProbe, closeSharedBreaker, openSharedBreaker } from './shared-breaker.js';
import { inTransaction, openPgPool, type SqlClient, type SqlPool } from '../pg-pool.js';

export interface PostgresWorkerLedgerOptions {
  /** The job whose shared runs these are. */
  readonly job: string;
  /** The schema of the ledger's and the workers' tables, already checked (checkPgSchema). */
  readonly schema: string;
  /** A chunk's lease: its expiry also ends a session stopped inside a fenced write (below). */
  readonly lease: ResolvedLeaseOptions;
}

/**
 * Connections at most per worker: the job ledger's four (a commit, the heartbeat, a reader), and
 * two for what only a worker does beside them (its chunks' heartbeat, the shared breaker's claims).
 */
const WORKER_POOL_SIZE = 6;

/** Opens the worker ledger of `options.job` at `spec` (a `postgres:` URL); connects at the first call. */
export function openPostgresWorkerLedger(spec: string, options: PostgresWorkerLedgerOptions): WorkerLedger {
  const { pg, path } = loadPg('ledger');
  const target = resolvePostgresTarget(spec, path);
  // One pool for the job's ledger and the worker tables. A worker stopped inside a fenced write
  // (SIGSTOP, a frozen VM) holds its chunk rows' locks, which would block every takeover for ever:
  // its session ends after a lease time idle in the transaction, and the locks go with the lease.
  const pool = openPgPool(pg, target.config, {
    applicationName: 'batchguard-worker',
    idleInTransactionMs: options.lease.expireMs,
    max: WORKER_POOL_SIZE,
    connectTimeoutMs: target.connectTimeoutMs,
  });
  const ledger = new PostgresLedger(new PgDb(pool, target.location), options.schema, options.job, options.lease);
  return new PostgresWorkerLedger(ledger, pool, options.schema, options.job, options.lease);
}

/** What a worker keeps when the database fails it, as its error says. */
const KEPT = 'what was committed is kept; run it again to rejoin the run';

class PostgresWorkerLedger implements WorkerLedger {
  private preparing: Promise<number> | undefined;

  constructor(
    /** The job's ledger, on the same pool as `sql`: closing it ends the pool. */
    readonly ledger: Ledger,
    private readonly sql: SqlPool,
    private readonly schema: string,
    private readonly job: string,
    private readonly lease: ResolvedLeaseOptions,
  ) {}

  /** The job's id, once the job's ledger and the worker tables exist (made once, on first use). */
  private ready(): Promise<number> {
    this.preparing ??= this.prepare().catch((error: unknown) => {
      this.preparing = undefined;
      throw databaseFault(error, this.ledger.location, 'creating the worker tables', 'nothing was written');
    });
    return this.preparing;
  }

  private async prepare(): Promise<number> {
    // The job's ledger creates its schema and the job's row on first use.
    await this.ledger.counts();
    const jobId = await jobIdOf(this.sql, this.schema, this.job);
    if (jobId === undefined) {
      throw new LedgerError('LEDGER_UNUSABLE', `the PostgreSQL ledger ${this.ledger.location} has no row for job ${this.job}`);
    }
    await createWorkerTables(this.sql, this.schema);
    return jobId;
  }

  /**
   * Runs one call once the tables exist; a database error becomes the ledger's one-line error
   * (LEDGER_UNUSABLE, exit code 4), never a raw one (which the CLI would call a bug). A session
   * that ended under a call (an idle connection the server closed: an administrator, a restart,
   * or meeting the server's news only now, after the process was stopped) fails that call alone,
   * as the pool drops the connection: a `repeatable` call, whose repetition cannot do harm, is
   * tried once more, on another.
   */
  private async use<T>(doing: string, repeatable: boolean, work: (jobId: number) => Promise<T>): Promise<T> {
    const jobId = await this.ready();
    try {
      try {
        return await work(jobId);
      } catch (error) {
        if (!repeatable || !sessionEnded(error)) throw error;
        return await work(jobId);
      }
    } catch (error) {
      throw databaseFault(error, this.ledger.location, doing, KEPT);
    }
  }

  async joinRun(request: JoinRequest): Promise<JoinedRun> {
    // The plan reads the job's source: its errors are the source's, and pass on as they are.
    let planFailure: { error: unknown } | undefined;
    const plan = (): Promise<ChunkPlan> =>
      request.plan().catch((error: unknown) => {
        planFailure = { error };
        throw error;
      });
    try {
      // Not repeated: it may have planned the run, which reads the whole source (planned outside
      // any transaction, under a planning lease: join-run.ts says why).
      return await this.use('joining the shared run', false, (jobId) =>
        joinRun(this.sql, this.schema, this.job, { ...request, plan }, this.lease, (client, runId, planned) =>
          recordPlannedRun(client, this.schema, jobId, {
            runId,
            total: planned.total,
            host: hostname(),
            options: request.runOptions ?? {},
            rerun: request.rerun !== undefined,
          }),
        ),
      );
    } catch (error) {
      throw planFailure === undefined ? error : planFailure.error;
    }
  }

  activeRun(): Promise<ActiveSharedRun | undefined> {
    return this.use('looking for workers on the job', true, () => readActiveRun(this.sql, this.schema, this.job));
  }

  runState(runId: string): Promise<SharedRunState | undefined> {
    return this.use("reading the shared run's state", true, () => readRunState(this.sql, this.schema, runId));
  }

  leaseChunk(runId: string, owner: string, leaseMs: number): Promise<LeasedChunk | undefined> {
    // Repeated: a lease taken by the call whose answer was lost is held by nobody who knows it,
    // and expires; the chunk waits a lease time, no more.
    return this.use('leasing a chunk', true, () => leaseChunk(this.sql, this.schema, runId, owner, leaseMs));
  }

  recordedIn(first: number, last: number): Promise<SeqRange[]> {
    return this.use('reading what the chunk recorded', true, (jobId) => finishedIn(this.sql, this.schema, jobId, first, last));
  }

  recordedByRun(runId: string, seqs: readonly number[]): Promise<number[]> {
    return this.use('reading what the chunk recorded', true, (jobId) => recordedByRun(this.sql, this.schema, jobId, runId, seqs));
  }

  renewLeases(runId: string, owner: string, held: readonly HeldChunk[], leaseMs: number): Promise<Set<number>> {
    return this.use('renewing leases', true, () => renewLeases(this.sql, this.schema, runId, owner, held, leaseMs));
  }

  releaseLeases(runId: string, owner: string, held: readonly HeldChunk[]): Promise<void> {
    return this.use('giving chunks back', true, () => releaseLeases(this.sql, this.schema, runId, owner, held));
  }

  fenced<T>(runId: string, owner: string, held: readonly HeldChunk[], write: (writes: FencedWrites) => Promise<T>): Promise<T> {
    // A session ended under the write is a lost lease (fenced-write.ts), which passes unchanged.
    return this.use('a fenced write', false, (jobId) =>
      fencedWrite(this.sql, this.schema, runId, owner, held, (client) => write(this.writes(client, jobId, runId, owner))),
    );
  }

  /** The writes of one fenced transaction on `client`, all for `runId`, by `owner`. */
  private writes(client: SqlClient, jobId: number, runId: string, owner: string): FencedWrites {
    const { schema } = this;
    return {
      writeOutcomes: (batch, done) => writeChunkOutcomes(client, schema, jobId, runId, owner, batch, done),
      storeKeys: (entries) => storeKeyEntries(client, schema, jobId, entries),
      saveStep: async (key, name, result) => {
        // The statement without its own lease check: this transaction's fence is the chunk's.
        await client.query(stepsSql(schema).save, [jobId, key, name, result ?? null, runId, new Date().toISOString()]);
      },
      markChunkDone: (chunk) => markChunkDone(client, schema, runId, chunk),
    };
  }

  claimProbe(runId: string, owner: string, leaseMs: number): Promise<boolean> {
    // Repeated: a probe right this worker took a moment ago, it renews.
    return this.use('claiming the probe', true, () => claimProbe(this.sql, this.schema, runId, owner, leaseMs));
  }

  // The calls below say "true for the call that did it": repeated after an answer was lost, they
  // would say false for what this worker did, so they are not.

  completeRun(runId: string): Promise<boolean> {
    return this.use('completing the shared run', false, () => completeRun(this.sql, this.schema, runId));
  }

  abortRun(runId: string, reason: string): Promise<boolean> {
    return this.use('aborting the shared run', false, () =>
      inTransaction(this.sql, (client) => abortRun(client, this.schema, runId, reason)),
    );
  }

  async recordRunEnd(runId: string, status: string, summary: unknown): Promise<void> {
    await this.use("recording the shared run's end", false, (jobId) =>
      inTransaction(this.sql, (client) => recordRunEnd(client, this.schema, jobId, runId, status, summary)),
    );
  }

  openBreaker(runId: string, reason: string): Promise<boolean> {
    return this.use('opening the shared breaker', false, () => openSharedBreaker(this.sql, this.schema, runId, reason));
  }

  closeBreaker(runId: string, owner: string): Promise<boolean> {
    return this.use('closing the shared breaker', false, () => closeSharedBreaker(this.sql, this.schema, runId, owner));
  }

  /** Closes the job's ledger, which ends the pool the workers' statements share; a second call does nothing more. */
  close(): Promise<void> {
    return this.ledger.close();
  }
}
