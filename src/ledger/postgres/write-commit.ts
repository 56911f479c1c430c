/**
 * One group commit's writes, after the lease fence and in its transaction (postgres-ledger.ts):
 * the success ranges, the rows, the job's meta values and the timeline
 * point, each one statement for the whole batch (sql/outcomes.ts).
 */
import type { CommitBatch, RecordRow } from '../ledger.js';
import type { Query } from './pg-db.js';
import { metaSql } from './sql/meta.js';
import { outcomesSql } from './sql/outcomes.js';

export async function writeCommit(query: Query, schema: string, jobId: number, batch: CommitBatch): Promise<void> {
  const sql = outcomesSql(schema);
  await writeRanges(query, sql, jobId, batch);
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

/**
 * Stores ranges of first-time successes: a range extends the run's range that it continues (one
 * row per contiguous run of successes), and what is already stored is not stored again. The range
 * it continues is looked up, not remembered between commits: a remembered range is wrong after its
 * transaction rolled back, and a batch written twice must not count its successes twice (the
 * SQLite ledger does the same).
 */
async function writeRanges(query: Query, sql: ReturnType<typeof outcomesSql>, jobId: number, batch: CommitBatch): Promise<void> {
  for (const range of batch.succeeded) {
    let { first, last } = range;
    const before = (await query(sql.rangeAtOrBefore, [jobId, first])).rows[0];
    if (before) {
      const beforeLast = Number(before.last_seq);
      if (beforeLast >= last) continue;
      if (before.run_id === batch.runId && beforeLast >= first - 1) first = Number(before.first_seq);
      else if (beforeLast >= first) first = beforeLast + 1;
    }
    for (const row of (await query(sql.absorbRanges, [jobId, first, last])).rows) last = Math.max(last, Number(row.last_seq));
    await query(sql.upsertRange, [jobId, first, last, batch.runId]);
  }
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
