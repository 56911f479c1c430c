import { describe, expect, it } from 'vitest';
import type { RecordRow } from '../ledger/ledger.js';
import { writeFailureTable } from './failure-formats.js';

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
});
