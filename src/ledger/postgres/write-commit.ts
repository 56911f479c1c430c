/**
 * One group commit's writes, after the lease fence and in its transaction (postgres-ledger.ts):
 * the success ranges, the rows, the job's meta values, the timeline point and the new keys.
 */
import type { CommitBatch, RecordRow } from '../ledger.js';
import type { Query } from './pg-db.js';
import { outcomesSql } from './sql/outcomes.js';

/**
 * Writes the batch (and `keys`, the new keys' entries) in two statements whatever its size: one
 * per success range (one in the common case), and one for everything else (sql/outcomes.ts). Each
 * round trip is paid in full while the server is busy, so they are kept few.
 */
export async function writeCommit(
  query: Query,
  schema: string,
  jobId: number,
  batch: CommitBatch,
  keys: Uint8Array | undefined,
): Promise<void> {
  const sql = outcomesSql(schema);
  for (const range of batch.succeeded) await query(sql.writeRange, [jobId, range.first, range.last, batch.runId]);
  const meta: [string, string][] = [['seen', String(batch.seen)]];
  if (batch.watermark) meta.push(['watermark', JSON.stringify(batch.watermark)]);
  if (batch.sourceSample) meta.push(['source_sample', JSON.stringify(batch.sourceSample)]);
  if (batch.exhausted) meta.push(['exhausted', 'true']);
  if (batch.outputState) meta.push(['output_state', JSON.stringify(batch.outputState)]);
  let done = batch.rows.length;
  for (const range of batch.succeeded) done += range.last - range.first + 1;
  const failed = batch.rows.filter((row) => row.status === 'failed').length;
  await query(sql.writeRest, [
    jobId,
    ...rowColumns(latestPerSeq(batch.rows)),
    meta.map(([key]) => key),
    meta.map(([, value]) => value),
    batch.runId,
    new Date().toISOString(),
    done,
    failed,
    keys === undefined ? null : Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength),
  ]);
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
