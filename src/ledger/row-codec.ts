/**
 * Conversions between the rows the ledger backends store and the ledger's types. The SQLite and
 * PostgreSQL ledgers store the same columns under the same names (PostgreSQL's int8 comes back as
 * a string, hence the conversions), so one codec serves both.
 */
import type { FailureKind, LedgerCounts, RecordRow, RunRecord, SeqRange } from './ledger.js';

type Row = Record<string, unknown>;

export function parseJson<T>(text: string | undefined): T | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

export function toRecordRow(row: Row): RecordRow {
  const optional = <T>(value: unknown, convert: (v: unknown) => T): T | undefined =>
    value === null || value === undefined ? undefined : convert(value);
  return {
    seq: Number(row.seq),
    key: String(row.key),
    status: row.status as RecordRow['status'],
    kind: optional(row.kind, (v) => v as FailureKind),
    attempts: Number(row.attempts),
    error: optional(row.error, (v) => JSON.parse(String(v))),
    fingerprint: optional(row.fingerprint, String),
    template: optional(row.template, String),
    rule: optional(row.rule, String),
    history: optional(row.history, (v) => JSON.parse(String(v))),
    blockedBy: optional(row.blocked_by, (v) => JSON.parse(String(v))),
    runId: String(row.run_id),
    line: optional(row.line, Number),
    offset: optional(row.byte_offset, Number),
    updatedAt: String(row.updated_at),
  };
}

/** Sorted, disjoint ranges covering the given ranges and single sequence numbers. */
export function mergeRanges(ranges: readonly SeqRange[], singles: readonly number[]): SeqRange[] {
  const all = [...ranges, ...singles.map((seq) => ({ first: seq, last: seq }))].sort((a, b) => a.first - b.first);
  const merged: { first: number; last: number }[] = [];
  for (const range of all) {
    const previous = merged[merged.length - 1];
    if (previous && range.first <= previous.last + 1) previous.last = Math.max(previous.last, range.last);
    else merged.push({ first: range.first, last: range.last });
  }
  return merged;
}

/** A `runs` row as a RunRecord. */
export function toRunRecord(row: Row): RunRecord {
  return {
    runId: String(row.run_id),
    startedAt: String(row.started_at),
    endedAt: (row.ended_at as string | null) ?? undefined,
    status: String(row.status),
    pid: Number(row.pid),
    host: String(row.host),
    summary: row.summary ? JSON.parse(String(row.summary)) : undefined,
  };
}

/** What a backend counts to report a job's counts. */
export interface StoredCounts {
  /** Records in the success ranges. */
  readonly inRanges: number;
  /** Rows by status. */
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  /** The meta values `seen` (records read, as far as any run got) and `exhausted`. */
  readonly seen: string | undefined;
  readonly exhausted: string | undefined;
}

/** The job's counts from what is stored: every record read and not finished is pending. */
export function toLedgerCounts(stored: StoredCounts): LedgerCounts {
  const succeeded = stored.inRanges + stored.succeeded;
  const { failed, skipped } = stored;
  const finished = succeeded + failed + skipped;
  const total = Math.max(Number(stored.seen ?? 0), finished);
  return { total, succeeded, failed, skipped, pending: total - finished, sourceExhausted: stored.exhausted === 'true' };
}
