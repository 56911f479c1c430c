/**
 * The run lease in PostgreSQL (the policy is ../../lease.ts): one row per job, created with the job
 * and never deleted, so its token only grows. A released lease keeps its token and loses its owner.
 *
 * Why the locks are what they are:
 * - Taking reads the row `FOR UPDATE`: two runs starting together queue on the row, and the second
 *   sees the first's lease when its turn comes, instead of both deciding from the same old row.
 * - Every write of the holder (a commit, a crash note, the end of the run) reads the row `FOR
 *   SHARE` and compares the token in the same transaction as the write. A taker's UPDATE of the
 *   row then waits until that transaction has ended, and a holder whose lease was taken finds the
 *   new token: no write of a fenced-off holder can land after the take. FOR SHARE, not FOR
 *   UPDATE, because the holder's own statements need not exclude one another.
 * - Expiry is decided on the database's clock (`clock_timestamp()`), never a worker's: machines
 *   whose clocks disagree still agree on when a lease expired.
 */
export const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::int8';

const COLUMNS = 'token, run_id, owner, pid, host, acquired_at, renewed_at, expires_at';

/**
 * The fence as a WITH clause of a statement that fences itself (sql/outcomes.ts's writeCommit): the
 * row of job $1, read FOR SHARE as `fence` does, and `held`, true when its token is `token` (a
 * parameter) and it is not released. The statement writes only when `held`, and returns the row,
 * so that a holder whose lease was taken learns by whom in the same round trip.
 */
export const fenceClause = (s: string, token: string): string =>
  `SELECT ${COLUMNS}, ${NOW_MS} AS now_ms, token = ${token} AND owner IS NOT NULL AS held FROM "${s}".lease WHERE job_id = $1 FOR SHARE`;

export const leaseSql = (s: string) => ({
  /** The row, locked for a take: serialises runs that start together. */
  readForTake: `SELECT ${COLUMNS}, ${NOW_MS} AS now_ms FROM "${s}".lease WHERE job_id = $1 FOR UPDATE`,
  /** The row as it is, for `holder()` and waits. */
  read: `SELECT ${COLUMNS}, ${NOW_MS} AS now_ms FROM "${s}".lease WHERE job_id = $1`,
  /** The fence: the first statement of each of the holder's write transactions. */
  fence: `SELECT ${COLUMNS}, ${NOW_MS} AS now_ms FROM "${s}".lease WHERE job_id = $1 FOR SHARE`,
  take: `UPDATE "${s}".lease SET token = $2, run_id = $3, owner = $4, pid = $5, host = $6,
    acquired_at = ${NOW_MS}, renewed_at = ${NOW_MS}, expires_at = ${NOW_MS} + $7 WHERE job_id = $1
    RETURNING acquired_at, renewed_at, expires_at`,
  /** Renews only this holder's lease; no row back means it was taken. */
  renew: `UPDATE "${s}".lease SET renewed_at = ${NOW_MS}, expires_at = GREATEST(expires_at, ${NOW_MS} + $3)
    WHERE job_id = $1 AND token = $2 AND owner IS NOT NULL RETURNING renewed_at, expires_at`,
  /** Releases only this holder's lease ($2 its token): sql/finish.ts's first step. */
  release: `UPDATE "${s}".lease SET owner = NULL, run_id = NULL, expires_at = NULL
    WHERE job_id = $1 AND token = $2 AND owner IS NOT NULL`,
});
