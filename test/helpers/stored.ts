/**
 * What a run stored, read through the Ledger interface (a read-only handle on a SQLite ledger
 * file, or any ledger the test opened), so that engine and CLI tests assert outcomes, not a
 * backend's tables.
 */
import { expect } from 'vitest';
import type { Ledger, RecordRow, SeqRange } from '../../src/ledger/ledger.js';
import { openLedgerForReading } from '../../src/ledger/open-ledger.js';
import { collect } from './sources.js';

/** Runs `read` on a read-only handle on the SQLite ledger at `path`, and closes it. */
export async function withStoredLedger<T>(path: string, read: (ledger: Ledger) => Promise<T>): Promise<T> {
  const ledger = openLedgerForReading(path);
  try {
    return await read(ledger);
  } finally {
    await ledger.close();
  }
}

/** Every stored row of `ledger` (failures, skips, re-run successes), in source order. */
export function rowsOf(ledger: Ledger): Promise<RecordRow[]> {
  return collect(ledger.rows({ statuses: ['succeeded', 'failed', 'skipped'] }));
}

/** Every stored row of the SQLite ledger at `path`, in source order. */
export function storedRows(path: string): Promise<RecordRow[]> {
  return withStoredLedger(path, rowsOf);
}

/** The stored ranges of first-time successes of the SQLite ledger at `path`, in order. */
export function storedRanges(path: string): Promise<SeqRange[]> {
  return withStoredLedger(path, (ledger) => collect(ledger.succeededRanges()));
}

/**
 * Asserts that records 0 … `records` - 1 each have exactly one stored outcome: the success ranges
 * and the rows, in source order, follow each other with no overlap and no gap.
 */
export async function expectOneOutcomeEach(ledger: Ledger, records: number): Promise<void> {
  const ranges = await collect(ledger.succeededRanges());
  const spans = [...ranges, ...(await rowsOf(ledger)).map((row) => ({ first: row.seq, last: row.seq }))];
  spans.sort((a, b) => a.first - b.first);
  let next = 0;
  for (const span of spans) {
    expect(span.first).toBe(next);
    next = span.last + 1;
  }
  expect(next).toBe(records);
}
