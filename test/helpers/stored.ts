/**
 * What a run stored, read through the Ledger interface (a read-only handle on the ledger file),
 * so that engine tests assert outcomes, not the SQLite backend's tables.
 */
import type { RecordRow, SeqRange } from '../../src/ledger/ledger.js';
import { openLedgerForReading } from '../../src/ledger/open-ledger.js';

/** Every stored row (failures, skips, re-run successes), in source order. */
export async function storedRows(path: string): Promise<RecordRow[]> {
  const ledger = openLedgerForReading(path);
  try {
    const rows: RecordRow[] = [];
    for await (const row of ledger.rows({ statuses: ['succeeded', 'failed', 'skipped'] })) rows.push(row);
    return rows;
  } finally {
    await ledger.close();
  }
}

/** The stored ranges of first-time successes, in order. */
export async function storedRanges(path: string): Promise<SeqRange[]> {
  const ledger = openLedgerForReading(path);
  try {
    const ranges: SeqRange[] = [];
    for await (const range of ledger.succeededRanges()) ranges.push(range);
    return ranges;
  } finally {
    await ledger.close();
  }
}
