import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/temp.js';
import type { Ledger, RecordRow, RowFilter } from '../ledger/ledger.js';
import type { Summary } from './summary.js';
import { writeRunReports } from './run-reports.js';

/** A ledger that has only what writeRunReports reads: the report folder and the rows of a run. */
function ledgerWith(folder: string, rows: RecordRow[]): { ledger: Ledger; filters: RowFilter[] } {
  const filters: RowFilter[] = [];
  const ledger = {
    reportFolder: (runId: string) => join(folder, runId),
    rows: async function* (filter: RowFilter) {
      filters.push(filter);
      yield* rows;
    },
  } as unknown as Ledger;
  return { ledger, filters };
}

const failedRow = (seq: number): RecordRow => ({
  seq,
  key: `key-${seq}`,
  status: 'failed',
  kind: 'fatal',
  attempts: 1,
  // ~1 KB a line: 600 lines cross the 256 KB chunk the lines are gathered in twice.
  error: { name: 'Error', message: `record ${seq} is invalid: ${'x'.repeat(1000)}` },
  fingerprint: 'abc',
  runId: 'run-1',
  line: seq + 1,
  updatedAt: '2026-01-01T00:00:00.000Z',
});

describe('writeRunReports', () => {
  it('writes every failure line in order, private, and the summary naming both files', async () => {
    const rows = Array.from({ length: 600 }, (_, seq) => failedRow(seq));
    const { ledger, filters } = ledgerWith(tempDir(), rows);
    const paths = await writeRunReports(ledger, { runId: 'run-1', job: 'job' } as Summary);
    expect(filters).toEqual([{ statuses: ['failed', 'skipped'], runId: 'run-1' }]);
    const lines = readFileSync(paths!.failures, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => (JSON.parse(line) as { key: string }).key)).toEqual(rows.map((row) => row.key));
    expect(statSync(paths!.failures).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(paths!.summary, 'utf8'))).toEqual({ runId: 'run-1', job: 'job', reports: paths });
  });

  it('reads the rows by pages where the ledger has them, and writes the same lines', async () => {
    const rows = Array.from({ length: 600 }, (_, seq) => failedRow(seq));
    const { ledger: byRow } = ledgerWith(tempDir(), rows);
    const { ledger: paged, filters } = ledgerWith(tempDir(), []);
    Object.assign(paged, {
      rowPages: async function* (filter: RowFilter) {
        filters.push(filter);
        for (let at = 0; at < rows.length; at += 128) yield rows.slice(at, at + 128);
      },
    });
    const fromRows = await writeRunReports(byRow, { runId: 'run-1', job: 'job' } as Summary);
    const fromPages = await writeRunReports(paged, { runId: 'run-1', job: 'job' } as Summary);
    expect(filters).toEqual([{ statuses: ['failed', 'skipped'], runId: 'run-1' }]);
    expect(readFileSync(fromPages!.failures, 'utf8')).toBe(readFileSync(fromRows!.failures, 'utf8'));
  });

  it('writes an empty failure report for a run with no failure', async () => {
    const { ledger } = ledgerWith(tempDir(), []);
    const paths = await writeRunReports(ledger, { runId: 'run-2', job: 'job' } as Summary);
    expect(readFileSync(paths!.failures, 'utf8')).toBe('');
  });
});
