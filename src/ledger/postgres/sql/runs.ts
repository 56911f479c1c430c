/** The job's runs: one row each, written when a run begins and when it ends (never by a commit). */
export const runsSql = (s: string) => ({
  insert: `INSERT INTO "${s}".runs (job_id, run_id, started_at, status, pid, host, options) VALUES ($1, $2, $3, 'running', $4, $5, $6)`,
  markCrashed: `UPDATE "${s}".runs SET status = 'crashed', ended_at = $3 WHERE job_id = $1 AND run_id = $2 AND ended_at IS NULL`,
  /** A shared run's end, unless one is recorded already (every worker that sees the run end writes it). */
  end: `UPDATE "${s}".runs SET status = $3, ended_at = $4, summary = $5 WHERE job_id = $1 AND run_id = $2 AND ended_at IS NULL`,
  hasAny: `SELECT EXISTS (SELECT 1 FROM "${s}".runs WHERE job_id = $1) AS any`,
});
