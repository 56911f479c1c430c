/**
 * The tables workers share: one row per run that workers join, one per chunk of it, and one per job
 * for the lease of the worker planning its next run (join-run.ts). Created on first use, so no
 * setup step exists to forget; tables of an earlier version are upgraded in place.
 *
 * Locking: `CREATE … IF NOT EXISTS` is not safe against itself (two sessions creating the same table
 * at once can both pass the check, and one fails on the catalog's unique index), so creation holds
 * a transaction-scoped advisory lock named after the schema: the second worker to start waits a few
 * milliseconds and finds everything there.
 */
import { inTransaction, type SqlClient, type SqlPool } from '../pg-pool.js';
import { quoteIdent } from '../postgres-location.js';
import { createSchemaIfMissingSql } from '../sql/migrate.js';

/** Bumped when these tables change; stored in `worker_schema` so a later version can upgrade them. */
export const WORKER_SCHEMA_VERSION = 5;

export async function createWorkerTables(pool: SqlPool, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  await inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`batchguard-schema:${schema}`]);
    await client.query(createSchemaIfMissingSql(s));
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.worker_schema (version integer NOT NULL)`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.worker_schema`);
    const version = rows[0]?.version ?? 0;
    if (version >= WORKER_SCHEMA_VERSION) return;
    if (version < 1) await createV1(client, s);
    if (version < 2) {
      // Version 2: the planning lease. One row per job, never deleted, so its token only grows (a
      // planner replaced while it planned finds a newer token, whatever ran in between).
      await client.query(`
      CREATE TABLE ${s}.run_plans (
        job text PRIMARY KEY,
        -- The worker planning now; NULL when nobody is.
        owner text,
        token bigint NOT NULL,
        expires_at timestamptz
      )`);
    }
    // Version 3: shared reruns. The run says what it re-runs (NULL for a plain run), so a worker
    // joins only the run its command asked for; a rerun's chunk lists the records it selected, with
    // the group of the failure each was selected for (NULL for a blocked one): the breaker's.
    await client.query(`ALTER TABLE ${s}.worker_runs ADD COLUMN IF NOT EXISTS rerun text`);
    await client.query(
      `ALTER TABLE ${s}.chunks ADD COLUMN IF NOT EXISTS selected_seqs bigint[], ADD COLUMN IF NOT EXISTS selected_keys text[],
                               ADD COLUMN IF NOT EXISTS selected_groups text[]`,
    );
    if (version < 4) {
      // Version 4: each worker counts its outcomes in a row of its own, so that the workers' commits
      // do not wait for each other on the run's row (whose lock a commit holds until it is on disk).
      // The run's counts are the sum of these rows and the run's own columns (written by version 3).
      await client.query(`
      CREATE TABLE ${s}.worker_counts (
        run_id text NOT NULL REFERENCES ${s}.worker_runs (run_id) ON DELETE CASCADE,
        owner text NOT NULL,
        succeeded bigint NOT NULL DEFAULT 0,
        failed bigint NOT NULL DEFAULT 0,
        skipped bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, owner)
      )`);
    }
    // Version 5: a chunk of dependency components whose records lie far apart lists the stretches
    // its worker reads (`[{ from: { seq, line, offset }, count }]`), and seeks past the rest.
    await client.query(`ALTER TABLE ${s}.chunks ADD COLUMN IF NOT EXISTS segments jsonb`);
    await client.query(`DELETE FROM ${s}.worker_schema`);
    await client.query(`INSERT INTO ${s}.worker_schema (version) VALUES ($1)`, [WORKER_SCHEMA_VERSION]);
  });
}

/** The tables of version 1: the runs and their chunks. */
async function createV1(client: SqlClient, s: string): Promise<void> {
  await client.query(`
      CREATE TABLE ${s}.worker_runs (
        run_id text PRIMARY KEY,
        job text NOT NULL,
        -- running | completed | aborted: the run that workers join is the job's running one.
        status text NOT NULL,
        total bigint NOT NULL,
        planned_by text NOT NULL,
        planned_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        ended_at timestamptz,
        -- The shared decisions: every worker follows these rather than its own view.
        breaker text NOT NULL DEFAULT 'closed',
        breaker_since timestamptz,
        breaker_reason text,
        probe_owner text,
        probe_expires_at timestamptz,
        abort_reason text,
        -- This run's outcomes, all workers together: the threshold is decided on these.
        succeeded bigint NOT NULL DEFAULT 0,
        failed bigint NOT NULL DEFAULT 0,
        skipped bigint NOT NULL DEFAULT 0
      )`);
  // At most one running run per job: two planners racing past the advisory lock (which they
  // should not) would fail here instead of splitting the workers between two runs.
  await client.query(`CREATE UNIQUE INDEX worker_runs_one_running ON ${s}.worker_runs (job) WHERE status = 'running'`);
  await client.query(`
      CREATE TABLE ${s}.chunks (
        run_id text NOT NULL REFERENCES ${s}.worker_runs (run_id) ON DELETE CASCADE,
        chunk integer NOT NULL,
        first_seq bigint NOT NULL,
        count integer NOT NULL,
        line bigint,
        byte_offset bigint,
        -- open | leased | done
        status text NOT NULL DEFAULT 'open',
        owner text,
        -- Incremented by every lease: a write carrying an older token is refused (fencing).
        token bigint NOT NULL DEFAULT 0,
        lease_expires_at timestamptz,
        leases integer NOT NULL DEFAULT 0,
        done_at timestamptz,
        PRIMARY KEY (run_id, chunk)
      )`);
  await client.query(`CREATE INDEX chunks_to_lease ON ${s}.chunks (run_id, chunk) WHERE status <> 'done'`);
}
