/**
 * A worker joins the job's running run, or plans one when there is none.
 *
 * Locking: a transaction-scoped advisory lock named after the job serialises joiners, and the first
 * one plans while holding it. The others wait for the plan instead of planning too (planning reads
 * the whole source), and a planner that dies mid-plan rolls back and releases the lock: the next
 * joiner plans. Nothing is half-planned, ever. The partial unique index on running runs is the
 * backstop should two transactions ever get past the lock together.
 */
import type { ChunkPlan, JoinedRun, JoinRequest } from '../../worker-ledger.js';
import { inTransaction, quoteIdent, type SqlClient, type SqlPool } from './sql-client.js';

/**
 * Joins `job`'s running run or plans one; `onPlanned` records what goes with a new plan in the
 * same transaction (so a plan is never without it).
 */
export async function joinRun(
  pool: SqlPool,
  schema: string,
  job: string,
  request: JoinRequest,
  onPlanned: (client: SqlClient, runId: string, plan: ChunkPlan) => Promise<void>,
): Promise<JoinedRun> {
  const s = quoteIdent(schema);
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`batchguard-job:${schema}:${job}`]);
    const running = await client.query<{ run_id: string; total: string; chunks: string }>(
      `SELECT r.run_id, r.total, (SELECT count(*) FROM ${s}.chunks c WHERE c.run_id = r.run_id) AS chunks
         FROM ${s}.worker_runs r WHERE r.job = $1 AND r.status = 'running'`,
      [job],
    );
    const found = running.rows[0];
    if (found !== undefined) return { runId: found.run_id, total: Number(found.total), chunks: Number(found.chunks), planned: false };
    const plan = await request.plan();
    await client.query(`INSERT INTO ${s}.worker_runs (run_id, job, status, total, planned_by) VALUES ($1, $2, 'running', $3, $4)`, [
      request.newRunId,
      job,
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
    await onPlanned(client, request.newRunId, plan);
    return { runId: request.newRunId, total: plan.total, chunks: plan.chunks.length, planned: true };
  });
}
