/**
 * Outcomes written by workers into the PostgreSQL ledger's own tables (../sql/), so that
 * `status`, `failures`, `report` and `rerun` read a shared run like any other.
 *
 * Successes are inserted as they come, one range per commit, never merged into a stored range:
 * merging reads the range before and rewrites it, and two workers doing that at once for adjacent
 * chunks would each overwrite the other's extension. Ranges of different chunks never overlap (a
 * record belongs to one chunk, and a worker taking a chunk over skips what was recorded), so plain
 * inserts are exact; the price is one range row per commit instead of one per contiguous run.
 */
import type { CommitBatch, SeqRange } from '../../ledger.js';
import type { HeldChunk } from '../../worker-ledger.js';
import { metaSql } from '../sql/meta.js';
import { outcomesSql } from '../sql/outcomes.js';
import { runsSql } from '../sql/runs.js';
import { rowColumns } from '../write-commit.js';
import { type SqlClient } from '../pg-pool.js';
import { quoteIdent } from '../postgres-location.js';
import { markChunkDone } from './fenced-write.js';

/** The job's id in the ledger's `jobs` table (the ledger creates the row when it first opens). */
export async function jobIdOf(client: SqlClient, schema: string, job: string): Promise<number | undefined> {
  const { rows } = await client.query<{ job_id: number }>(`SELECT job_id FROM ${quoteIdent(schema)}.jobs WHERE name = $1`, [job]);
  return rows[0]?.job_id;
}

/** The sequence numbers in `first` … `last` that already have an outcome, as sorted, disjoint ranges. */
export async function finishedIn(client: SqlClient, schema: string, jobId: number, first: number, last: number): Promise<SeqRange[]> {
  const s = quoteIdent(schema);
  const { rows } = await client.query<{ f: string; l: string }>(
    `SELECT greatest(first_seq, $2) AS f, least(last_seq, $3) AS l FROM ${s}.succeeded_ranges
      WHERE job_id = $1 AND first_seq <= $3 AND last_seq >= $2
     UNION ALL
     SELECT seq, seq FROM ${s}.records WHERE job_id = $1 AND seq BETWEEN $2 AND $3
     ORDER BY 1`,
    [jobId, first, last],
  );
  const merged: { first: number; last: number }[] = [];
  for (const row of rows) {
    const f = Number(row.f);
    const l = Number(row.l);
    const top = merged[merged.length - 1];
    if (top !== undefined && f <= top.last + 1) top.last = Math.max(top.last, l);
    else merged.push({ first: f, last: l });
  }
  return merged;
}

/**
 * Of `seqs`, those whose latest outcome `runId` recorded: a shared rerun's records already re-run
 * (a rerun stores every outcome as a row, successes too, so the rows say it).
 */
export async function recordedByRun(
  client: SqlClient,
  schema: string,
  jobId: number,
  runId: string,
  seqs: readonly number[],
): Promise<number[]> {
  const { rows } = await client.query<{ seq: string }>(
    `SELECT seq FROM ${quoteIdent(schema)}.records WHERE job_id = $1 AND run_id = $2 AND seq = ANY($3::bigint[]) ORDER BY seq`,
    [jobId, runId, seqs],
  );
  return rows.map((row) => Number(row.seq));
}

/**
 * One worker commit in one statement: success ranges, rows, the run's timeline point (no
 * watermark: chunks have their own starts), and the outcomes added to this worker's counts.
 * Parameters: $1 job, $2..$16 the rows (outcomesSql's upsertRows), $17/$18 the ranges' first and
 * last, $19 run, $20 at, $21 done, $22 failed, $23 owner, $24 succeeded, $25 skipped; with
 * `markDone`, $26 the chunk and $27 its token, marked done (the chunk's last commit).
 */
const commitSql = (schema: string, markDone: boolean): string => `WITH upserted AS (
      ${outcomesSql(schema).upsertRows}
      RETURNING 1
    ), ranges AS (
      INSERT INTO ${quoteIdent(schema)}.succeeded_ranges (job_id, first_seq, last_seq, run_id)
      SELECT $1, f, l, $19 FROM unnest($17::int8[], $18::int8[]) AS t(f, l) RETURNING 1
    ), point AS (
      ${outcomesSql(schema).timelinePoint} RETURNING 1
    ), counted AS (
      INSERT INTO ${quoteIdent(schema)}.worker_counts AS w (run_id, owner, succeeded, failed, skipped)
      SELECT $19, $23, $24, $22, $25 WHERE $21::int4 > 0
      ON CONFLICT (run_id, owner) DO UPDATE SET succeeded = w.succeeded + excluded.succeeded,
        failed = w.failed + excluded.failed, skipped = w.skipped + excluded.skipped
      RETURNING 1
    )${
      markDone
        ? `, finished AS (
      UPDATE ${quoteIdent(schema)}.chunks SET status = 'done', done_at = clock_timestamp(), lease_expires_at = NULL
      WHERE run_id = $19 AND chunk = $26 AND token = $27 RETURNING 1
    )`
        : ''
    }
    SELECT (SELECT COUNT(*) FROM upserted) AS rows`;

export async function writeChunkOutcomes(
  client: SqlClient,
  schema: string,
  jobId: number,
  runId: string,
  owner: string,
  batch: CommitBatch,
  markDone?: HeldChunk,
): Promise<void> {
  // One row per record: a statement's ON CONFLICT cannot touch the same row twice; the later outcome wins.
  const rows = [...new Map(batch.rows.map((row) => [row.seq, { ...row, runId }])).values()];
  let succeeded = 0;
  let failed = 0;
  let skipped = 0;
  for (const range of batch.succeeded) succeeded += range.last - range.first + 1;
  for (const row of rows) {
    if (row.status === 'succeeded') succeeded++;
    else if (row.status === 'failed') failed++;
    else skipped++;
  }
  const done = succeeded + failed + skipped;
  if (done === 0) {
    if (markDone !== undefined) await markChunkDone(client, schema, runId, markDone);
    return;
  }
  await client.query(commitSql(schema, markDone !== undefined), [
    jobId,
    ...rowColumns(rows),
    batch.succeeded.map((r) => r.first),
    batch.succeeded.map((r) => r.last),
    runId,
    new Date().toISOString(),
    done,
    failed,
    owner,
    succeeded,
    skipped,
    ...(markDone === undefined ? [] : [markDone.chunk, markDone.token]),
  ]);
}

/** Entries per stored row of keys, as the ledger's own commits store them (a multiple of the 16-byte entry). */
const KEY_ROW_BYTES = 1024 * 1024;

/** Stores key entries in the job's `key_chunks`, which the ledger's `keys()` loads (a repeated entry is skipped there). */
export async function storeKeyEntries(client: SqlClient, schema: string, jobId: number, entries: Uint8Array): Promise<void> {
  const sql = outcomesSql(schema);
  for (let at = 0; at < entries.byteLength; at += KEY_ROW_BYTES) {
    await client.query(sql.insertKeyChunk, [jobId, Buffer.from(entries.subarray(at, at + KEY_ROW_BYTES))]);
  }
}

/**
 * What the planner records with the plan: the run, and the record count, which is known once the
 * source is planned (so `status` counts every record not done yet as pending from the start). A
 * rerun's total is the records it selected, not the source's: the job's record count stays.
 */
export async function recordPlannedRun(
  client: SqlClient,
  schema: string,
  jobId: number,
  run: {
    readonly runId: string;
    readonly total: number;
    readonly options: Record<string, unknown>;
    readonly host: string;
    readonly rerun: boolean;
  },
): Promise<void> {
  await client.query(runsSql(schema).insert, [
    jobId,
    run.runId,
    new Date().toISOString(),
    process.pid,
    run.host,
    JSON.stringify(run.options),
  ]);
  if (!run.rerun) await client.query(metaSql(schema).set, [jobId, ['seen', 'exhausted'], [String(run.total), 'true']]);
}

/** Records how the shared run ended, once, by the worker that saw it end. */
export async function recordRunEnd(
  client: SqlClient,
  schema: string,
  jobId: number,
  runId: string,
  status: string,
  summary: unknown,
): Promise<void> {
  await client.query(runsSql(schema).end, [jobId, runId, status, new Date().toISOString(), JSON.stringify(summary)]);
}
