/**
 * The session-level advisory lock that a run lease's holder keeps on a connection of its own for
 * the whole run (../holder-session.ts). One key per lease token, not per job: the token is handed
 * out once, so a run that took the lease over (`--take-over`) while the old holder's session lives
 * on holds a key of its own, and nobody ever mistakes the old holder's lock for the new one's.
 * Keyed by text through `hashtextextended`, as the schema lock (migrate.ts), with a prefix of its
 * own so no other advisory lock of batchguard's shares a key with it.
 */
const KEY = "hashtextextended('batchguard run lease ' || $1 || ' ' || $2 || ' ' || $3, 0)";

export const sessionLockSql = {
  /** True when got (at once, never waiting). Parameters: schema, job id, token. */
  tryLock: `SELECT pg_try_advisory_lock(${KEY}) AS got`,
  unlock: `SELECT pg_advisory_unlock(${KEY}) AS released`,
};
