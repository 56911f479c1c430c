/**
 * Moving every stored outcome to its record's new position after accepted drift (the SQLite
 * ledger's source-state.ts says what moves where), in the caller's transaction. The moves are sent
 * as arrays; sequence numbers are first made negative so that no moved row collides, mid-update,
 * with a row that has not moved yet (PostgreSQL checks a plain primary key row by row).
 */
export const sourceMapSql = (s: string) => ({
  dropGone: `DELETE FROM "${s}".records WHERE job_id = $1 AND NOT (seq = ANY($2::int8[]))`,
  negate: `UPDATE "${s}".records SET seq = -1 - seq WHERE job_id = $1`,
  move: `UPDATE "${s}".records AS r SET seq = m.new_seq, line = m.line, byte_offset = m.byte_offset
    FROM unnest($2::int8[], $3::int8[], $4::int8[], $5::int8[]) AS m(old_seq, new_seq, line, byte_offset)
    WHERE r.job_id = $1 AND r.seq = -1 - m.old_seq`,
  clearRanges: `DELETE FROM "${s}".succeeded_ranges WHERE job_id = $1`,
});
