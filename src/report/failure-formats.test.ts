import { describe, expect, it } from 'vitest';
import type { RecordRow } from '../ledger/ledger.js';
import { writeFailureLines, writeFailureTable } from './failure-formats.js';

function failed(seq: number, fingerprint: string, message: string): RecordRow {
  return {
    seq,
    key: String(seq),
    status: 'failed',
    kind: 'fatal',
    attempts: 1,
    error: { name: 'Error', message },
    fingerprint,
    runId: 'r',
    updatedAt: '2026-12-02T08:00:00.000Z',
  };
}

async function* rowsOf(rows: RecordRow[]): AsyncIterable<RecordRow> {
  yield* rows;
}

async function table(rows: RecordRow[]): Promise<string> {
  let text = '';
  await writeFailureTable(rowsOf(rows), (line) => (text += line));
  return text;
}

describe('the failure table', () => {
  it('ends with the records and groups counted, in the singular for one', async () => {
    expect(await table([failed(1, 'aaa', 'bad id 1')])).toMatch(/\n1 record in 1 group\n$/);
    const two = await table([failed(1, 'aaa', 'bad id 1'), failed(2, 'bbb', 'timeout'), failed(3, 'bbb', 'timeout')]);
    expect(two).toMatch(/\n3 records in 2 groups\n$/);
  });

  it('writes CSV cells that a spreadsheet would run as formulas with a leading quote, numbers as they are', async () => {
    const keys = ['=HYPERLINK("http://evil")', '+1+cmd', "-2+3|' /C calc'!A0", '@SUM(A1)', '-5', '+7.25', 'plain'];
    let text = '';
    const rows = keys.map((key, seq) => ({ ...failed(seq, 'aaa', key === 'plain' ? '=1+1 in a message' : 'bad'), key }));
    await writeFailureLines(rowsOf(rows), 'csv', (line) => (text += line));
    const firstCells = text
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.slice(0, line.indexOf(',failed')));
    expect(firstCells).toEqual([`"'=HYPERLINK(""http://evil"")"`, "'+1+cmd", "'-2+3|' /C calc'!A0", "'@SUM(A1)", '-5', '+7.25', 'plain']);
    expect(text).toContain(",'=1+1 in a message,");
  });

  it('writes control characters in CSV cells as \\u escapes, so that a terminal showing them obeys no escape sequence', async () => {
    let text = '';
    await writeFailureLines(
      rowsOf([{ ...failed(1, 'aaa', 'bad \u001b]0;title\u0007 x'), key: '\u001b[2Jred\ttab' }]),
      'csv',
      (line) => (text += line),
    );
    expect(text.includes('\u001b') || text.includes('\u0007')).toBe(false);
    expect(text).toContain('\\u001b[2Jred\ttab,failed');
    expect(text).toContain('bad \\u001b]0;title\\u0007 x');
  });
});
