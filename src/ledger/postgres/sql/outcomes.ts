/**
 * The group commit's writes. Each is one statement for the whole batch, whatever its size: arrays
 * are sent as parameters and `unnest` turns them into rows, so a batch of 1000 failures is one
 * round trip (a statement per row would be 1000). They run after the lease fence (lease.ts), in
 * its transaction; the row locks they take are on the job's own rows only.
 */
export const outcomesSql = (s: string) => ({
  /** New ranges, known not to overlap any stored one (the rewrite after accepted drift). */
  insertRanges: `INSERT INTO "${s}".succeeded_ranges (job_id, first_seq, last_seq, run_id)
    SELECT $1, f, l, $4 FROM unnest($2::int8[], $3::int8[]) AS t(f, l)`,
  /** The stored range that starts at or before $2: the one a new range may continue or overlap. */
  rangeAtOrBefore: `SELECT first_seq, last_seq, run_id FROM "${s}".succeeded_ranges
    WHERE job_id = $1 AND first_seq <= $2 ORDER BY first_seq DESC LIMIT 1`,
  /** Ranges that start inside the new one are merged into it. */
  absorbRanges: `DELETE FROM "${s}".succeeded_ranges WHERE job_id = $1 AND first_seq > $2 AND first_seq <= $3 RETURNING last_seq`,
  upsertRange: `INSERT INTO "${s}".succeeded_ranges (job_id, first_seq, last_seq, run_id) VALUES ($1, $2, $3, $4)
    ON CONFLICT (job_id, first_seq) DO UPDATE SET last_seq = excluded.last_seq`,
  /** Failures, skips and re-run outcomes: a record's row is replaced by its newer outcome. */
  upsertRows: `INSERT INTO "${s}".records (job_id, seq, key, status, kind, attempts, error, fingerprint, template, rule,
      history, blocked_by, run_id, line, byte_offset, updated_at)
    SELECT $1, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::text[], $8::text[], $9::text[],
      $10::text[], $11::text[], $12::text[], $13::text[], $14::int8[], $15::int8[], $16::text[])
    ON CONFLICT (job_id, seq) DO UPDATE SET key = excluded.key, status = excluded.status, kind = excluded.kind,
      attempts = excluded.attempts, error = excluded.error, fingerprint = excluded.fingerprint, template = excluded.template,
      rule = excluded.rule, history = excluded.history, blocked_by = excluded.blocked_by, run_id = excluded.run_id,
      line = excluded.line, byte_offset = excluded.byte_offset, updated_at = excluded.updated_at`,
  insertKeyChunk: `INSERT INTO "${s}".key_chunks (job_id, chunk) VALUES ($1, $2)`,
  addTimeline: `INSERT INTO "${s}".run_timeline (job_id, run_id, at, done, failed) VALUES ($1, $2, $3, $4, $5)`,
});
