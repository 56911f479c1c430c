/**
 * One group commit's writes, after the lease fence and in its transaction (postgres-ledger.ts):
 * the success ranges, the rows, the job's meta values, the timeline point and the new keys.
 */
import type { CommitBatch, RecordRow, SeqRange } from '../ledger.js';
import type { Query } from './pg-db.js';
import { outcomesSql } from './sql/outcomes.js';

/**
 * Writes the batch (and `keys`, the new keys' entries) in one statement whatever its size and its
 * number of success ranges (sql/outcomes.ts's writeCommit). Each round trip is paid in full while
 * the server is busy: a range per statement cost ~27 round trips a commit when 6% of the records
 * failed or were retried (docs/benchmarks.md). Only when a range overlaps a stored one (a batch
 * written again) are the ranges written one statement each, by writeRange, after it.
 */
export async function writeCommit(
  query: Query,
  schema: string,
  jobId: number,
  batch: CommitBatch,
  keys: Uint8Array | undefined,
): Promise<void> {
  const sql = outcomesSql(schema);
  const ranges = separated(batch.succeeded) ? batch.succeeded : [];
  const meta: [string, string][] = [['seen', String(batch.seen)]];
  if (batch.watermark) meta.push(['watermark', JSON.stringify(batch.watermark)]);
  if (batch.sourceSample) meta.push(['source_sample', JSON.stringify(batch.sourceSample)]);
  if (batch.exhausted) meta.push(['exhausted', 'true']);
  if (batch.outputState) meta.push(['output_state', JSON.stringify(batch.outputState)]);
  let done = batch.rows.length;
  for (const range of batch.succeeded) done += range.last - range.first + 1;
  const failed = batch.rows.filter((row) => row.status === 'failed').length;
  const { rows } = await query(sql.writeCommit, [
    jobId,
    ...rowColumns(latestPerSeq(batch.rows)),
    meta.map(([key]) => key),
    meta.map(([, value]) => value),
    batch.runId,
    new Date().toISOString(),
    done,
    failed,
    keys === undefined ? null : Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength),
    ranges.map((range) => range.first),
    ranges.map((range) => range.last),
  ]);
  if (ranges.length === batch.succeeded.length && rows[0]?.clash !== true) return;
  for (const range of batch.succeeded) await query(sql.writeRange, [jobId, range.first, range.last, batch.runId]);
}

/** True when the ranges are sorted with a gap between any two, as writeCommit's statement needs (the checkpointer's are). */
function separated(ranges: readonly SeqRange[]): boolean {
  for (let i = 1; i < ranges.length; i++) if ((ranges[i] as SeqRange).first <= (ranges[i - 1] as SeqRange).last + 1) return false;
  return true;
}

/** One row per record: a statement's ON CONFLICT cannot touch the same row twice, and the later outcome wins. */
function latestPerSeq(rows: readonly RecordRow[]): RecordRow[] {
  const bySeq = new Map<number, RecordRow>();
  for (const row of rows) bySeq.set(row.seq, row);
  return bySeq.size === rows.length ? (rows as RecordRow[]) : [...bySeq.values()];
}

/** The rows as the column arrays of sql/outcomes.ts's upsertRows, in its order. */
export function rowColumns(rows: readonly RecordRow[]): unknown[][] {
  const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
  return [
    rows.map((r) => r.seq),
    rows.map((r) => r.key),
    rows.map((r) => r.status),
    rows.map((r) => r.kind ?? null),
    rows.map((r) => r.attempts),
    rows.map((r) => json(r.error)),
    rows.map((r) => r.fingerprint ?? null),
    rows.map((r) => r.template ?? null),
    rows.map((r) => r.rule ?? null),
    rows.map((r) => (r.history && r.history.length > 0 ? JSON.stringify(r.history) : null)),
    rows.map((r) => json(r.blockedBy)),
    rows.map((r) => r.runId),
    rows.map((r) => r.line ?? null),
    rows.map((r) => r.offset ?? null),
    rows.map((r) => r.updatedAt),
  ];
}
