/**
 * Conversions between the SQLite ledger's rows and the ledger's types.
 */
import type { FailureKind, RecordRow, SeqRange } from '../ledger.js';

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
