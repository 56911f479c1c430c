/**
 * Crash quarantine's evidence (the SQLite ledger's crash-notes.ts explains the rules). The note of
 * what may be in flight is one `meta` row, `in_flight`, replaced by each note; it is written by a
 * single statement that also checks the lease (one round trip, since the engine waits for it
 * before the records it covers start, and sends the next note only after it: engine/crash-guard.ts):
 * the INSERT reads the lease row FOR SHARE and inserts nothing when the token is not this holder's.
 */
/** The job's meta row holding the crash note of the run in progress. */
export const CRASH_NOTE_KEY = 'in_flight';

export const crashSql = (s: string) => ({
  fencedNote: `INSERT INTO "${s}".meta AS m (job_id, key, value)
    SELECT $1, '${CRASH_NOTE_KEY}', $3 FROM (SELECT 1 FROM "${s}".lease WHERE job_id = $1 AND token = $2 AND owner IS NOT NULL FOR SHARE) AS held
    ON CONFLICT (job_id, key) DO UPDATE SET value = excluded.value
    RETURNING 1`,
  all: `SELECT seq, group_size, alone_crashes, run_ids FROM "${s}".crash_suspects WHERE job_id = $1`,
  count: `SELECT COUNT(*)::int AS n FROM "${s}".crash_suspects WHERE job_id = $1`,
  /** Which of the noted records the dead run gave an outcome (they cannot have been in flight). */
  finishedOf: `SELECT s FROM unnest($2::int8[]) AS s WHERE
    EXISTS (SELECT 1 FROM "${s}".succeeded_ranges r WHERE r.job_id = $1 AND r.first_seq <= s AND r.last_seq >= s)
    OR EXISTS (SELECT 1 FROM "${s}".records w WHERE w.job_id = $1 AND w.seq = s AND (w.run_id = $3 OR w.status = 'succeeded'))`,
  upsert: `INSERT INTO "${s}".crash_suspects AS c (job_id, seq, group_size, alone_crashes, run_ids)
    SELECT $1, * FROM unnest($2::int8[], $3::int4[], $4::int4[], $5::text[])
    ON CONFLICT (job_id, seq) DO UPDATE SET group_size = excluded.group_size, alone_crashes = excluded.alone_crashes, run_ids = excluded.run_ids`,
  deleteAll: `DELETE FROM "${s}".crash_suspects WHERE job_id = $1`,
});
