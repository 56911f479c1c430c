/**
 * The group commit's writes. Each is one statement for the whole batch, whatever its size: arrays
 * are sent as parameters and `unnest` turns them into rows, so a batch of 1000 failures is one
 * round trip (a statement per row would be 1000). The commit's statement fences itself
 * (writeCommit); the others run after the lease fence (lease.ts), in its transaction. The row
 * locks they take are on the job's own rows only.
 */
import { fenceClause } from './lease.js';

/**
 * Records' rows ($2..$16, one array per column, as write-commit.ts's rowColumns) upserted for job
 * $1: a record's row is replaced by its newer outcome. One text for every statement that writes
 * rows, so that they cannot differ in a column.
 */
const upsertRecords = (
  s: string,
  when = 'true',
): string => `INSERT INTO "${s}".records (job_id, seq, key, status, kind, attempts, error, fingerprint,
      template, rule, history, blocked_by, run_id, line, byte_offset, updated_at)
    SELECT $1, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::text[], $8::text[], $9::text[],
      $10::text[], $11::text[], $12::text[], $13::text[], $14::int8[], $15::int8[], $16::text[]) WHERE ${when}
    ON CONFLICT (job_id, seq) DO UPDATE SET key = excluded.key, status = excluded.status, kind = excluded.kind,
      attempts = excluded.attempts, error = excluded.error, fingerprint = excluded.fingerprint, template = excluded.template,
      rule = excluded.rule, history = excluded.history, blocked_by = excluded.blocked_by, run_id = excluded.run_id,
      line = excluded.line, byte_offset = excluded.byte_offset, updated_at = excluded.updated_at`;

/**
 * The run's timeline point of a commit ($19 run, $20 at, $21 done, $22 failed; none when nothing was
 * done), a WITH clause of this ledger's commit and of a worker's (workers/chunk-outcomes.ts).
 */
const timelinePoint = (s: string, when = 'true'): string =>
  `INSERT INTO "${s}".run_timeline (job_id, run_id, at, done, failed) SELECT $1, $19, $20, $21, $22 WHERE $21::int4 > 0 AND ${when}`;

/** In writeCommit: whether it writes (the lease is this holder's, and no new range overlaps a stored one). */
const GO = '(SELECT yes FROM go)';

export const outcomesSql = (s: string) => ({
  /** New ranges, known not to overlap any stored one (the rewrite after accepted drift). */
  insertRanges: `INSERT INTO "${s}".succeeded_ranges (job_id, first_seq, last_seq, run_id)
    SELECT $1, f, l, $4 FROM unnest($2::int8[], $3::int8[]) AS t(f, l)`,
  /**
   * Stores the range $2..$3 of run $4 as the SQLite ledger does (sqlite/outcome-writer.ts): it
   * extends the run's range that it continues (one row per contiguous run of successes), stores
   * nothing already stored, and absorbs the ranges that start inside it. `before` is the stored
   * range at or before its first record; `start` decides where the stored range begins, or that the
   * new one is already covered. A stored range that starts where the new one must (just after
   * `before`) is kept and grown, never cut short: the records it holds beyond the new range were
   * done. One statement per range: writeCommit stores a commit's ranges itself
   * unless one overlaps a stored range (a batch written again), and only then is this used.
   */
  writeRange: `WITH before AS (
      SELECT first_seq, last_seq, run_id FROM "${s}".succeeded_ranges
      WHERE job_id = $1 AND first_seq <= $2 ORDER BY first_seq DESC LIMIT 1
    ), start AS (
      SELECT CASE WHEN b.last_seq IS NULL THEN $2::int8
                  WHEN b.run_id = $4 AND b.last_seq >= $2::int8 - 1 THEN b.first_seq
                  WHEN b.last_seq >= $2 THEN b.last_seq + 1
                  ELSE $2::int8 END AS f,
             COALESCE(b.last_seq >= $3, false) AS covered
      FROM (SELECT 1) AS one LEFT JOIN before AS b ON true
    ), absorbed AS (
      DELETE FROM "${s}".succeeded_ranges AS r USING start
      WHERE r.job_id = $1 AND NOT start.covered AND r.first_seq > start.f AND r.first_seq <= $3 RETURNING r.last_seq
    )
    INSERT INTO "${s}".succeeded_ranges AS r (job_id, first_seq, last_seq, run_id)
    SELECT $1, start.f, GREATEST($3::int8, COALESCE((SELECT MAX(last_seq) FROM absorbed), $3::int8)), $4 FROM start WHERE NOT start.covered
    ON CONFLICT (job_id, first_seq) DO UPDATE SET last_seq = GREATEST(r.last_seq, excluded.last_seq)`,
  /**
   * A commit in one statement, its own transaction: the lease fence, its success ranges ($24
   * firsts, $25 lasts, sorted, with a gap between any two), the rows ($2..$16, as upsertRows), the
   * job's meta values ($17 keys, $18 values; `seen` only grows), the timeline point ($19 run, $20
   * at, $21 done, $22 failed; none when nothing was done), the new keys' entries ($23, or NULL), and
   * the crash suspects that the batch gives an outcome deleted ($27 ranges' firsts, $28 lasts, $29
   * single records). Each sub-statement writes its own table, which data-modifying WITH clauses
   * allow in one statement.
   *
   * The fence (sql/lease.ts's fenceClause, with $26 the holder's token) locks the lease row FOR
   * SHARE before anything is written: every write is conditioned on `go`, which reads it. A taker's
   * UPDATE of the row waits for this statement's commit, or has committed before and then the row
   * read is the taker's (READ COMMITTED reads the newest version of a row it locks): a fenced-off
   * holder writes nothing. One round trip instead of four (BEGIN, the fence, the writes, COMMIT),
   * which the reader waits for at every commit (docs/postgres.md).
   *
   * The ranges: `placed` finds, through the primary key, the stored range starting last at or
   * before each new range's end. Stored ranges never overlap, so a new range overlaps one exactly
   * when that range reaches its first record (`clash`). Then nothing at all is written, the
   * statement says so, and the caller writes the commit again in a transaction: the ranges one by
   * one with writeRange, which knows what to skip and absorb, and the rest with this statement,
   * given no range. Otherwise that stored range is the one before, and the new range either extends
   * it (same run, ending just before) or is inserted: what writeRange would store. Both are one
   * upsert (`stored`): an extended range is its first record's row, found in conflict.
   *
   * Why an upsert: the server plans this statement once for all its later runs (a generic plan,
   * after five), while the job's ranges are still few, and keeps that plan as the table grows (until
   * the table is analysed). An UPDATE of the extended ranges joined to `placed` was planned, on
   * the tiny table, as a hash join that read all the job's ranges at every commit that extended
   * one: 11.4 million range rows read over the 1,012 commits of a 1,000,000-record run with the
   * failing handler of bench/compare, where each commit touches ~60. An upsert finds its conflict
   * through the primary key whatever the plan, as `placed`'s ordered LIMIT 1 lookups do.
   */
  writeCommit: `WITH fence AS (
      ${fenceClause(s, '$26')}
    ), placed AS (
      SELECT n.f, n.l, b.first_seq AS bf, b.last_seq AS bl, COALESCE(b.run_id = $19 AND b.last_seq = n.f - 1, false) AS extends
      FROM unnest($24::int8[], $25::int8[]) AS n(f, l) LEFT JOIN LATERAL (
        SELECT first_seq, last_seq, run_id FROM "${s}".succeeded_ranges
        WHERE job_id = $1 AND first_seq <= n.l ORDER BY first_seq DESC LIMIT 1
      ) AS b ON true
    ), clash AS (
      SELECT EXISTS (SELECT 1 FROM placed WHERE bl >= f) AS found
    ), go AS (
      SELECT COALESCE((SELECT held FROM fence), false) AND NOT found AS yes FROM clash
    ), stored AS (
      INSERT INTO "${s}".succeeded_ranges AS r (job_id, first_seq, last_seq, run_id)
      SELECT $1, CASE WHEN p.extends THEN p.bf ELSE p.f END, p.l, $19 FROM placed AS p WHERE ${GO}
      ON CONFLICT (job_id, first_seq) DO UPDATE SET last_seq = excluded.last_seq
      RETURNING 1
    ), upserted AS (
      ${upsertRecords(s, GO)}
      RETURNING 1
    ), meta_set AS (
      INSERT INTO "${s}".meta AS m (job_id, key, value) SELECT $1, k, v FROM unnest($17::text[], $18::text[]) AS t(k, v) WHERE ${GO}
      ON CONFLICT (job_id, key) DO UPDATE SET value =
        CASE WHEN m.key = 'seen' THEN GREATEST(m.value::int8, excluded.value::int8)::text ELSE excluded.value END
      RETURNING 1
    ), point AS (
      ${timelinePoint(s, GO)} RETURNING 1
    ), chunk AS (
      INSERT INTO "${s}".key_chunks (job_id, chunk) SELECT $1, $23::bytea WHERE $23::bytea IS NOT NULL AND ${GO} RETURNING 1
    ), cleared AS (
      DELETE FROM "${s}".crash_suspects c WHERE ${GO} AND c.job_id = $1 AND (c.seq = ANY($29::int8[])
        OR EXISTS (SELECT 1 FROM unnest($27::int8[], $28::int8[]) AS t(f, l) WHERE c.seq BETWEEN t.f AND t.l))
      RETURNING 1
    )
    SELECT f.*, ${GO} AS written, (SELECT found FROM clash) AS clash, (SELECT COUNT(*) FROM cleared) AS cleared
    FROM (SELECT 1) AS one LEFT JOIN fence AS f ON true`,
  /** Failures, skips and re-run outcomes: a record's row is replaced by its newer outcome (a worker's fenced writes use it too: workers/chunk-outcomes.ts). */
  upsertRows: upsertRecords(s),
  /** A commit's timeline point (see timelinePoint), for a worker's commit statement. */
  timelinePoint: timelinePoint(s),
  insertKeyChunk: `INSERT INTO "${s}".key_chunks (job_id, chunk) VALUES ($1, $2)`,
});
