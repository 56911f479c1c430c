/**
 * A worker joins the job's running run, or plans one when there is none.
 *
 * Locking: a transaction-scoped advisory lock named after the job serialises joiners, and the first
 * one plans while holding it. The others wait for the plan instead of planning too (planning reads
 * the whole source), and a planner that dies mid-plan rolls back and releases the lock: the next
 * joiner plans. Nothing is half-planned, ever. The partial unique index on running runs is the
 * backstop should two transactions ever get past the lock together.
 */
import type { ChunkPlan } from '../chunk-plan.js';
import { inTransaction, quoteIdent, type SqlClient, type SqlPool } from '../sql-client.js';

/** The run a worker takes part in. */
export interface JoinedRun {
  readonly runId: string;
  /** Items in the source, as planned. */
  readonly total: number;
  /** How many chunks the run was split into. */
  readonly chunks: number;
  /** True for the worker that planned it. */
  readonly planned: boolean;
}

/** What joining needs: who joins, the id a new run gets, and how to plan one. */
export interface JoinRequest {
  readonly job: string;
  /** This worker's identity (random per process: see ledger/lease.ts on why not a pid). */
  readonly owner: string;
  /** The id of the run if this worker plans it. */
  readonly newRunId: string;
  readonly plan: () => Promise<ChunkPlan>;
  /** Records what goes with a new plan, in the same transaction (so a plan is never without it). */
  readonly onPlanned?: (client: SqlClient, runId: string, plan: ChunkPlan) => Promise<void>;
}

export async function joinRun(pool: SqlPool, schema: string, request: JoinRequest): Promise<JoinedRun> {
  const s = quoteIdent(schema);
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`batchguard-job:${schema}:${request.job}`]);
    const running = await client.query<{ run_id: string; total: string; chunks: string }>(
      `SELECT r.run_id, r.total, (SELECT count(*) FROM ${s}.chunks c WHERE c.run_id = r.run_id) AS chunks
         FROM ${s}.worker_runs r WHERE r.job = $1 AND r.status = 'running'`,
      [request.job],
    );
    const found = running.rows[0];
    if (found !== undefined) return { runId: found.run_id, total: Number(found.total), chunks: Number(found.chunks), planned: false };
    const plan = await request.plan();
    await client.query(`INSERT INTO ${s}.worker_runs (run_id, job, status, total, planned_by) VALUES ($1, $2, 'running', $3, $4)`, [
      request.newRunId,
      request.job,
      plan.total,
      request.owner,
    ]);
    // One statement for the whole plan: arrays unnested server-side rather than a row per round trip.
    await client.query(
      `INSERT INTO ${s}.chunks (run_id, chunk, first_seq, count, line, byte_offset)
       SELECT $1, * FROM unnest($2::integer[], $3::bigint[], $4::integer[], $5::bigint[], $6::bigint[])`,
      [
        request.newRunId,
        plan.chunks.map((c) => c.index),
        plan.chunks.map((c) => c.from.seq),
        plan.chunks.map((c) => c.count),
        plan.chunks.map((c) => c.from.line ?? null),
        plan.chunks.map((c) => c.from.offset ?? null),
      ],
    );
    await request.onPlanned?.(client, request.newRunId, plan);
    return { runId: request.newRunId, total: plan.total, chunks: plan.chunks.length, planned: true };
  });
}
