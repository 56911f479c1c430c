/**
 * One group commit's writes (postgres-ledger.ts): the success ranges, the rows, the job's meta
 * values, the timeline point, the new keys, and the crash suspects the batch gives an outcome.
 */
import type { CommitBatch, RecordRow, SeqRange } from '../ledger.js';
import { prepared, type PgDb, type Row, type Statement } from './pg-db.js';
import type { PostgresLease } from './postgres-lease.js';
import { outcomesSql } from './sql/outcomes.js';

/** What a commit writes besides the batch. */
export interface CommitExtras {
  /** The new keys' entries, or undefined when none were added. */
  readonly keys: Uint8Array | undefined;
  /** Whether crash suspects are stored (then the batch's records are deleted from them). */
  readonly suspects: boolean;
}

/**
 * Writes the batch, fenced by `lease`, in one statement whatever its size and its number of success
 * ranges (sql/outcomes.ts's writeCommit), which is its own transaction: one round trip, which the
 * reader waits for at every commit. Each round trip is paid in full while the server is busy: a
 * range per statement cost ~27 round trips a commit when 6% of the records failed or were retried,
 * and BEGIN, the fence and COMMIT as statements of their own three more (docs/benchmarks.md).
 * Only when a range overlaps a stored one (a batch written again) is the commit written in a
 * transaction instead, the ranges one statement each, by writeRange. Returns how many crash
 * suspects were deleted; throws LEDGER_LEASE_LOST, having written nothing, when the lease was taken.
 */
export async function writeCommit(
  db: PgDb,
  lease: PostgresLease,
  sql: CommitStatements,
  jobId: number,
  batch: CommitBatch,
  extras: CommitExtras,
): Promise<number> {
  const values = commitValues(jobId, batch, extras, lease.tokenToWrite());
  if (separated(batch.succeeded)) {
    const row = (await db.query(sql.writeCommit, values(batch.succeeded))).rows[0];
    lease.checkFenced(row);
    if (row?.written === true) return Number(row.cleared);
  }
  // A range overlaps a stored one (the statement wrote nothing), or the ranges are not separated.
  return db.transaction(async (query) => {
    await lease.fence(query);
    for (const range of batch.succeeded) await query(sql.writeRange, [jobId, range.first, range.last, batch.runId]);
    const row = (await query(sql.writeCommit, values([]))).rows[0] as Row;
    lease.checkFenced(row);
    return Number(row.cleared);
  });
}

/** The statements of a commit in `schema`, made once per ledger handle. */
export interface CommitStatements {
  readonly writeCommit: Statement;
  readonly writeRange: string;
}

export function commitStatements(schema: string): CommitStatements {
  const sql = outcomesSql(schema);
  return { writeCommit: prepared(sql.writeCommit), writeRange: sql.writeRange };
}

/** The parameters of sql/outcomes.ts's writeCommit, given the ranges it writes itself. */
export function commitValues(
  jobId: number,
  batch: CommitBatch,
  extras: CommitExtras,
  token: number,
): (ranges: readonly SeqRange[]) => unknown[] {
  const meta: [string, string][] = [['seen', String(batch.seen)]];
  if (batch.watermark) meta.push(['watermark', JSON.stringify(batch.watermark)]);
  if (batch.sourceSample) meta.push(['source_sample', JSON.stringify(batch.sourceSample)]);
  if (batch.exhausted) meta.push(['exhausted', 'true']);
  if (batch.outputState) meta.push(['output_state', JSON.stringify(batch.outputState)]);
  let done = batch.rows.length;
  for (const range of batch.succeeded) done += range.last - range.first + 1;
  const failed = batch.rows.filter((row) => row.status === 'failed').length;
  const { keys } = extras;
  // A quarantined record keeps its evidence (crash-evidence.ts): its row is not a finished outcome for it.
  const cleared = extras.suspects
    ? batch.rows.filter((row) => !(row.status === 'failed' && row.kind === 'crashed')).map((row) => row.seq)
    : [];
  const head = [
    jobId,
    ...rowColumns(latestPerSeq(batch.rows)),
    meta.map(([key]) => key),
    meta.map(([, value]) => value),
    batch.runId,
    new Date().toISOString(),
    done,
    failed,
    keys === undefined ? null : Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength),
  ];
  const suspectRanges = extras.suspects ? batch.succeeded : [];
  return (ranges) => [
    ...head,
    ranges.map((range) => range.first),
    ranges.map((range) => range.last),
    token,
    suspectRanges.map((range) => range.first),
    suspectRanges.map((range) => range.last),
    cleared,
  ];
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
