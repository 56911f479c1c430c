/**
 * The job's shared run while workers are on it: a chunk lease in force in its running run, or a
 * planning lease in force (a worker reading the source to plan one). What a single-process run
 * checks before it takes the job's ledger, so that it never runs beside workers, and what `status`,
 * `runs` and the dashboard read to tell a shared run going on from one that no worker is on. A
 * running run whose leases all expired or were given back (every worker died or stopped) is not
 * active: a single-process run may go on, and the next worker joins that run and skips what is recorded.
 */
import type { ActiveSharedRun } from '../worker-ledger.js';
import { quoteIdent } from './postgres-location.js';

/** What the query needs of a pool, a client or the ledger's PgDb. */
interface Queries {
  query(text: string, values: unknown[]): Promise<{ rows: unknown[] }>;
}

interface ActiveRow {
  run_id: string;
  chunks: string;
  chunks_done: string;
  workers: string;
  abandoned: string;
}

/** The job's shared run while workers are on it (the planning lease counts as one). */
export async function readActiveRun(client: Queries, schema: string, job: string): Promise<ActiveSharedRun | undefined> {
  const run = await readSharedRun(client, schema, job);
  return run === undefined || run.workers === 0 ? undefined : run;
}

/**
 * The job's running shared run, or the one being planned, with the workers on it now: 0 when
 * every one of them stopped or died (the run goes on when a worker joins it again).
 */
async function readSharedRun(client: Queries, schema: string, job: string): Promise<ActiveSharedRun | undefined> {
  const s = quoteIdent(schema);
  const planning = await client.query(
    `SELECT 1 FROM ${s}.run_plans WHERE job = $1 AND owner IS NOT NULL AND expires_at > clock_timestamp()`,
    [job],
  );
  if (planning.rows.length > 0) return { runId: undefined, workers: 1, chunks: 0, chunksDone: 0, abandoned: 0 };
  const { rows } = await client.query(
    `SELECT r.run_id, count(c.chunk) AS chunks,
            count(*) FILTER (WHERE c.status = 'done') AS chunks_done,
            count(DISTINCT c.owner) FILTER (WHERE c.status = 'leased' AND c.lease_expires_at > clock_timestamp()) AS workers,
            count(*) FILTER (WHERE c.status = 'leased' AND c.lease_expires_at <= clock_timestamp()) AS abandoned
       FROM ${s}.worker_runs r LEFT JOIN ${s}.chunks c ON c.run_id = r.run_id
      WHERE r.job = $1 AND r.status = 'running'
      GROUP BY r.run_id`,
    [job],
  );
  const row = rows[0] as ActiveRow | undefined;
  if (row === undefined) return undefined;
  return {
    runId: row.run_id,
    workers: Number(row.workers),
    chunks: Number(row.chunks),
    chunksDone: Number(row.chunks_done),
    abandoned: Number(row.abandoned),
  };
}

/**
 * The job's running shared run, workers on it or not, read by the job's ledger, which does not
 * create the worker tables: none when they do not exist (no worker ever ran the job in this schema).
 */
export async function readSharedRunIfAny(client: Queries, schema: string, job: string): Promise<ActiveSharedRun | undefined> {
  const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS shared', [`${quoteIdent(schema)}.worker_runs`]);
  return (rows[0] as { shared: boolean } | undefined)?.shared ? readSharedRun(client, schema, job) : undefined;
}
