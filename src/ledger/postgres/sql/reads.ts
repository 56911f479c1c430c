/**
 * What status, failures, reports and resumes read. Long lists are read in pages by key (`seq >
 * $last ORDER BY seq LIMIT n`), never with one query whose rows are all held in memory, and never
 * with a cursor that would keep a transaction (and a connection) open while the caller works.
 */
export const PAGE_ROWS = 1000;

export const readsSql = (s: string) => ({
  counts: `SELECT
    (SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM "${s}".succeeded_ranges WHERE job_id = $1)::int8 AS in_ranges,
    (SELECT COUNT(*) FROM "${s}".records WHERE job_id = $1 AND status = 'succeeded')::int8 AS succeeded,
    (SELECT COUNT(*) FROM "${s}".records WHERE job_id = $1 AND status = 'failed')::int8 AS failed,
    (SELECT COUNT(*) FROM "${s}".records WHERE job_id = $1 AND status = 'skipped')::int8 AS skipped,
    (SELECT value FROM "${s}".meta WHERE job_id = $1 AND key = 'seen') AS seen,
    (SELECT value FROM "${s}".meta WHERE job_id = $1 AND key = 'exhausted') AS exhausted`,
  rangesFrom: `SELECT first_seq, last_seq FROM "${s}".succeeded_ranges WHERE job_id = $1 AND last_seq >= $2 ORDER BY first_seq`,
  rowSeqsFrom: `SELECT seq FROM "${s}".records WHERE job_id = $1 AND seq >= $2 ORDER BY seq`,
  rangesPage: `SELECT first_seq, last_seq FROM "${s}".succeeded_ranges WHERE job_id = $1 AND first_seq > $2 ORDER BY first_seq LIMIT ${PAGE_ROWS}`,
  keyChunksPage: `SELECT id, chunk FROM "${s}".key_chunks WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT 16`,
  runs: `SELECT run_id, started_at, ended_at, status, pid, host, summary FROM "${s}".runs WHERE job_id = $1 ORDER BY ordinal DESC LIMIT $2`,
  timeline: `SELECT at, done, failed FROM "${s}".run_timeline WHERE job_id = $1 AND run_id = $2 ORDER BY id`,
  errorGroups: `SELECT fingerprint, COUNT(*)::int8 AS count, MIN(seq) AS first_seq FROM "${s}".records
    WHERE job_id = $1 AND status = 'failed' GROUP BY fingerprint ORDER BY count DESC, fingerprint LIMIT $2`,
  rowAt: `SELECT error, kind, rule FROM "${s}".records WHERE job_id = $1 AND seq = $2`,
  groupSamples: `SELECT key FROM "${s}".records WHERE job_id = $1 AND status = 'failed' AND fingerprint IS NOT DISTINCT FROM $2 ORDER BY seq LIMIT $3`,
  templates: `SELECT template, COUNT(*)::int8 AS count, MIN(seq) AS first_seq FROM "${s}".records
    WHERE job_id = $1 AND status = 'failed' AND fingerprint IS NOT DISTINCT FROM $2 GROUP BY template ORDER BY count DESC, first_seq LIMIT $3`,
  templateSamples: `SELECT key FROM "${s}".records WHERE job_id = $1 AND status = 'failed' AND fingerprint IS NOT DISTINCT FROM $2
    AND template IS NOT DISTINCT FROM $3 ORDER BY seq LIMIT $4`,
});
