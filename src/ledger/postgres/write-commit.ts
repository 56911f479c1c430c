/**
 * One group commit's writes, after the lease fence and in its transaction (postgres-ledger.ts):
 * the key index's chunk, the success ranges, the rows, the job's meta values and the timeline
 * point, each one statement for the whole batch (sql/outcomes.ts).
 */
import type { CommitBatch, RecordRow } from '../ledger.js';
import type { Query } from './pg-db.js';
import { metaSql } from './sql/meta.js';
import { outcomesSql } from './sql/outcomes.js';

/** The last range the run wrote, kept between commits by the ledger handle. */
export interface LastRange {
  current: { first: number; last: number; runId: string } | undefined;
}

export async function writeCommit(query: Query, schema: string, jobId: number, batch: CommitBatch, lastRange: LastRange): Promise<void> {
  const sql = outcomesSql(schema);
  if (batch.keyChunk && batch.keyChunk.length > 0) await query(sql.insertKeyChunk, [jobId, Buffer.from(batch.keyChunk)]);
  await writeRanges(query, sql, jobId, batch, lastRange);
  if (batch.rows.length > 0) await query(sql.upsertRows, [jobId, ...rowColumns(latestPerSeq(batch.rows))]);
  const meta: [string, string][] = [['seen', String(batch.seen)]];
  if (batch.watermark) meta.push(['watermark', JSON.stringify(batch.watermark)]);
  if (batch.sourceSample) meta.push(['source_sample', JSON.stringify(batch.sourceSample)]);
  if (batch.exhausted) meta.push(['exhausted', 'true']);
  if (batch.outputState) meta.push(['output_state', JSON.stringify(batch.outputState)]);
  await query(metaSql(schema).set, [jobId, meta.map(([key]) => key), meta.map(([, value]) => value)]);
  let done = batch.rows.length;
  for (const range of batch.succeeded) done += range.last - range.first + 1;
  if (done > 0) {
    const failed = batch.rows.filter((row) => row.status === 'failed').length;
    await query(sql.addTimeline, [jobId, batch.runId, new Date().toISOString(), done, failed]);
  }
}

async function writeRanges(
  query: Query,
  sql: ReturnType<typeof outcomesSql>,
  jobId: number,
  batch: CommitBatch,
  lastRange: LastRange,
): Promise<void> {
  let ranges = batch.succeeded;
  const last = lastRange.current;
  const first = ranges[0];
  if (first && last && last.runId === batch.runId && first.first === last.last + 1) {
    await query(sql.extendRange, [jobId, last.first, first.last]);
    last.last = first.last;
    ranges = ranges.slice(1);
  }
  if (ranges.length === 0) return;
  await query(sql.insertRanges, [jobId, ranges.map((r) => r.first), ranges.map((r) => r.last), batch.runId]);
  const end = ranges[ranges.length - 1] as { first: number; last: number };
  lastRange.current = { first: end.first, last: end.last, runId: batch.runId };
}

/** One row per record: a statement's ON CONFLICT cannot touch the same row twice, and the later outcome wins. */
function latestPerSeq(rows: readonly RecordRow[]): RecordRow[] {
  const bySeq = new Map<number, RecordRow>();
  for (const row of rows) bySeq.set(row.seq, row);
  return bySeq.size === rows.length ? (rows as RecordRow[]) : [...bySeq.values()];
}

/** The rows as the column arrays of sql/outcomes.ts's upsertRows, in its order. */
function rowColumns(rows: readonly RecordRow[]): unknown[][] {
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
