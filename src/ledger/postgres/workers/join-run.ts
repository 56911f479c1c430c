/**
 * A worker joins the job's running run, or plans one when there is none.
 *
 * Planning reads the whole source, which can take far longer than a lease (a slow disk, millions of
 * records). It is done outside any transaction, under a planning lease: the job's row in
 * `run_plans` (owner, token, expiry), renewed by a heartbeat while the source is read, like a
 * chunk's lease. Two short transactions, each holding a transaction-scoped advisory lock named
 * after the job, decide everything:
 * - claim: a running run is joined; else another worker's planning lease in force is waited for
 *   (the source is read once, not once per worker); else this worker takes the lease, with the
 *   next token, and plans.
 * - record: the plan is written (the run, its chunks, what goes with it) only while the planning
 *   lease still carries this worker's token, and the lease is given up in the same transaction. A
 *   planner stopped past its lease (SIGSTOP, a frozen VM) was replaced meanwhile: its late plan is
 *   refused, and it joins the run its replacement planned.
 *
 * Why not one transaction around the plan: its session would sit idle in the transaction while the
 * source is read, and the server ends such a session after a lease time (the workers' pool sets
 * idle_in_transaction_session_timeout, which frees the row locks of a worker stopped inside a
 * fenced write): a source slower to plan than a lease could never be planned. Why not a
 * session-level advisory lock held while planning: a planner stopped with it holds it for ever
 * (its session is idle, in no transaction, so nothing ends it) and every joiner waits for ever.
 *
 * A planner that fails gives the lease up, so the next joiner plans at once; nothing is
 * half-planned, ever. The partial unique index on running runs stays the backstop.
 */
import { LedgerError } from '../../../errors.js';
import type { ChunkPlan, JoinedRun, JoinRequest } from '../../worker-ledger.js';
import { inTransaction, type SqlClient, type SqlPool } from '../pg-pool.js';
import { quoteIdent } from '../postgres-location.js';

/** The planning lease's expiry and renewal: the workers' lease. */
export interface PlanningLease {
  readonly expireMs: number;
  readonly renewEveryMs: number;
}

/**
 * How often a worker waiting for another's plan looks again: soon at first (a small source is
 * planned in milliseconds, and the waiting workers should join before the run is done), then less
 * and less often, up to this.
 */
const WAIT_POLL_MS = 200;
const FIRST_POLL_MS = 5;

/**
 * Joins `job`'s running run or plans one; `onPlanned` records what goes with a new plan in the
 * same transaction (so a plan is never without it).
 */
export async function joinRun(
  pool: SqlPool,
  schema: string,
  job: string,
  request: JoinRequest,
  lease: PlanningLease,
  onPlanned: (client: SqlClient, runId: string, plan: ChunkPlan) => Promise<void>,
): Promise<JoinedRun> {
  const s = quoteIdent(schema);
  const lock = (client: SqlClient): Promise<unknown> =>
    client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`batchguard-job:${schema}:${job}`]);
  const release = (client: SqlClient, token: number): Promise<unknown> =>
    client.query(`UPDATE ${s}.run_plans SET owner = NULL, expires_at = NULL WHERE job = $1 AND token = $2`, [job, token]);
  for (let pollMs = FIRST_POLL_MS; ;) {
    const claim = await inTransaction(pool, async (client): Promise<JoinedRun | { token: number } | undefined> => {
      await lock(client);
      const running = await runningRun(client, s, job);
      if (running !== undefined) return sameKind(job, running, request.rerun);
      const { rows } = await client.query<{ token: string }>(
        `INSERT INTO ${s}.run_plans AS p (job, owner, token, expires_at)
         VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
         ON CONFLICT (job) DO UPDATE SET owner = excluded.owner, token = p.token + 1, expires_at = excluded.expires_at
          WHERE p.owner IS NULL OR p.expires_at <= clock_timestamp()
         RETURNING p.token`,
        [job, request.owner, lease.expireMs],
      );
      return rows[0] === undefined ? undefined : { token: Number(rows[0].token) };
    });
    if (claim === undefined) {
      await sleep(pollMs);
      pollMs = Math.min(pollMs * 2, WAIT_POLL_MS, lease.renewEveryMs);
      continue;
    }
    if ('runId' in claim) return claim;
    const { token } = claim;
    let plan: ChunkPlan;
    try {
      plan = await renewingWhile(pool, s, job, token, lease, request.plan);
    } catch (error) {
      await inTransaction(pool, (client) => release(client, token)).catch(() => undefined);
      throw error;
    }
    const record = inTransaction(pool, async (client): Promise<JoinedRun | undefined> => {
      await lock(client);
      const mine = await client.query(`SELECT 1 FROM ${s}.run_plans WHERE job = $1 AND owner = $2 AND token = $3`, [
        job,
        request.owner,
        token,
      ]);
      // Replaced while it planned: the replacement's run is the one to join.
      if (mine.rows.length === 0) return undefined;
      await insertPlan(client, s, job, request, plan);
      await onPlanned(client, request.newRunId, plan);
      await release(client, token);
      return { runId: request.newRunId, total: plan.total, chunks: plan.chunks.length, planned: true };
    });
    const planned = await record.catch(async (error: unknown) => {
      await inTransaction(pool, (client) => release(client, token)).catch(() => undefined);
      throw error;
    });
    if (planned !== undefined) return planned;
  }
}

async function runningRun(client: SqlClient, s: string, job: string): Promise<(JoinedRun & { rerun: string | null }) | undefined> {
  const { rows } = await client.query<{ run_id: string; total: string; chunks: string; rerun: string | null }>(
    `SELECT r.run_id, r.total, r.rerun, (SELECT count(*) FROM ${s}.chunks c WHERE c.run_id = r.run_id) AS chunks
       FROM ${s}.worker_runs r WHERE r.job = $1 AND r.status = 'running'`,
    [job],
  );
  const found = rows[0];
  return found === undefined
    ? undefined
    : { runId: found.run_id, total: Number(found.total), chunks: Number(found.chunks), planned: false, rerun: found.rerun };
}

/**
 * The running run, when it is the kind this worker was started for: a run's worker joins a run, a
 * rerun's worker the rerun of the same selection. Anything else would do work its command did not
 * ask for (a rerun's worker running every record, or the records of another selection): refused.
 */
function sameKind(job: string, running: JoinedRun & { rerun: string | null }, rerun: string | undefined): JoinedRun {
  const { runId, total, chunks, planned } = running;
  if ((running.rerun ?? undefined) === rerun) return { runId, total, chunks, planned };
  const what = running.rerun === null ? 'a shared run' : `a shared rerun (${running.rerun})`;
  const asked = rerun === undefined ? 'a run' : `a rerun (${rerun})`;
  throw new LedgerError(
    'LEDGER_LOCKED',
    `job ${job} has ${what} in progress, run ${runId}, and this worker was started for ${asked}: ` +
      'start it again once that run has ended (`batchguard status` shows it), or start it with the same command as the running one',
  );
}

/** Runs `plan` while a heartbeat renews the planning lease `token` (a refused renewal is found out when the plan is recorded). */
async function renewingWhile(
  pool: SqlPool,
  s: string,
  job: string,
  token: number,
  lease: PlanningLease,
  plan: () => Promise<ChunkPlan>,
): Promise<ChunkPlan> {
  const renew = (): void => {
    pool
      .query(`UPDATE ${s}.run_plans SET expires_at = clock_timestamp() + $3 * interval '1 millisecond' WHERE job = $1 AND token = $2`, [
        job,
        token,
        lease.expireMs,
      ])
      .catch(() => undefined);
  };
  const timer = setInterval(renew, lease.renewEveryMs);
  // The heartbeat alone must not keep a process alive.
  timer.unref();
  try {
    return await plan();
  } finally {
    clearInterval(timer);
  }
}

async function insertPlan(client: SqlClient, s: string, job: string, request: JoinRequest, plan: ChunkPlan): Promise<void> {
  await client.query(
    `INSERT INTO ${s}.worker_runs (run_id, job, status, total, planned_by, rerun) VALUES ($1, $2, 'running', $3, $4, $5)`,
    [request.newRunId, job, plan.total, request.owner, request.rerun ?? null],
  );
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
  // A rerun's selection, or the records of a chunk of dependency components (`members`, keys
  // NULL), one chunk a statement: unnest cannot build an array per row from one array.
  for (const chunk of plan.chunks) {
    if (chunk.members !== undefined) {
      await client.query(`UPDATE ${s}.chunks SET selected_seqs = $3::bigint[], segments = $4::jsonb WHERE run_id = $1 AND chunk = $2`, [
        request.newRunId,
        chunk.index,
        chunk.members,
        chunk.segments === undefined ? null : JSON.stringify(chunk.segments),
      ]);
    }
    if (chunk.selected === undefined) continue;
    await client.query(
      `UPDATE ${s}.chunks SET selected_seqs = $3::bigint[], selected_keys = $4::text[], segments = $5::jsonb, selected_groups = $6::text[]
        WHERE run_id = $1 AND chunk = $2`,
      [
        request.newRunId,
        chunk.index,
        chunk.selected.map((r) => r.seq),
        chunk.selected.map((r) => r.key),
        chunk.segments === undefined ? null : JSON.stringify(chunk.segments),
        chunk.selected.map((r) => r.fingerprint ?? null),
      ],
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
