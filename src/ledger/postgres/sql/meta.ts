/**
 * The job's small named values (watermark, counts of records seen, source fingerprint, output
 * state, crash note), as in the SQLite ledger's `meta`. Written in batches by key: `seen` only
 * ever grows through `set` (a late commit of a smaller count must not shrink it); the rewrite after
 * accepted drift, which may shrink it, removes it first.
 */
export const metaSql = (s: string) => ({
  all: `SELECT key, value FROM "${s}".meta WHERE job_id = $1`,
  get: `SELECT value FROM "${s}".meta WHERE job_id = $1 AND key = $2`,
  set: `INSERT INTO "${s}".meta AS m (job_id, key, value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS t(k, v)
    ON CONFLICT (job_id, key) DO UPDATE SET value =
      CASE WHEN m.key = 'seen' THEN GREATEST(m.value::int8, excluded.value::int8)::text ELSE excluded.value END`,
  remove: `DELETE FROM "${s}".meta WHERE job_id = $1 AND key = ANY($2::text[])`,
});
