/**
 * Durable steps (`ctx.step`) in the PostgreSQL ledger: the SQLite ledger's `steps` table
 * (../../sqlite/durable-steps.ts), keyed by job. Schema version 2 adds it to a version 1 ledger.
 * A step is saved by one statement that also checks the lease, as the crash note is
 * (crash-suspects.ts): one round trip, durable once it returns, nothing written by a stale holder.
 */
export const schemaV2 = (s: string): string => `
CREATE TABLE "${s}".steps (
  job_id       int NOT NULL REFERENCES "${s}".jobs ON DELETE CASCADE,
  key          text NOT NULL,
  name         text NOT NULL,
  result       text,
  run_id       text NOT NULL,
  completed_at text NOT NULL,
  PRIMARY KEY (job_id, key, name)
);
`;

export const stepsSql = (s: string) => ({
  of: `SELECT name, result FROM "${s}".steps WHERE job_id = $1 AND key = $2`,
  fencedSave: `INSERT INTO "${s}".steps AS t (job_id, key, name, result, run_id, completed_at)
    SELECT $1, $3, $4, $5, $6, $7 FROM (SELECT 1 FROM "${s}".lease WHERE job_id = $1 AND token = $2 AND owner IS NOT NULL FOR SHARE) AS held
    ON CONFLICT (job_id, key, name) DO UPDATE SET result = excluded.result, run_id = excluded.run_id, completed_at = excluded.completed_at
    RETURNING 1`,
  /** Inside a transaction that checked its own fence (a worker's chunk lease: workers/postgres-worker-ledger.ts). */
  save: `INSERT INTO "${s}".steps (job_id, key, name, result, run_id, completed_at) VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (job_id, key, name) DO UPDATE SET result = excluded.result, run_id = excluded.run_id, completed_at = excluded.completed_at`,
});
