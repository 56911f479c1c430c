/**
 * The NUL character (U+0000) in what a run stores. PostgreSQL's text cannot hold it ("invalid byte
 * sequence for encoding UTF8: 0x00"), so one handler error whose message held it failed the whole
 * commit, and the run stopped (exit 4), again at every run: one record stopped the job. A message
 * is stored with it escaped in its failure group's template (the error itself is stored as JSON,
 * which escapes it); a key holding it is refused (the record fails as invalid), on every ledger alike.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { FatalError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

const job = defineJob<{ id: string }>({
  name: 'nul-characters',
  source: [{ id: 'a\u0000b' }, { id: 'plain' }, { id: 'err' }],
  key: (r) => r.id,
  maxFailureRate: 1,
  handler: async (r) => {
    if (r.id === 'err') throw new FatalError('bad\u0000byte');
  },
});

async function check(ledger: string, pgSchema?: string): Promise<void> {
  const summary = await runJob(job, { ledger, pgSchema });
  expect(summary).toMatchObject({ status: 'completed', total: 3, succeeded: 1, failed: 2 });
  const { ledger: stored } = openLedger(ledger, { job: job.name, pgSchema });
  try {
    const rows = [];
    for await (const row of stored.rows({ statuses: ['failed'] })) rows.push(row);
    expect(rows.map((row) => [row.key, row.kind])).toEqual([
      ['@seq:0', 'invalid'],
      ['err', 'fatal'],
    ]);
    expect(rows[0]?.error?.message).toContain(
      'job.key returned "a\\u0000b", which holds a NUL character (U+0000) at index 1: PostgreSQL cannot store it;',
    );
    expect(rows[1]?.error?.message).toBe('bad\u0000byte');
    expect(rows[1]?.template).toBe('bad\\0byte');
  } finally {
    await stored.close();
  }
}

describe('NUL characters in keys and error messages', () => {
  it('the SQLite ledger', async () => {
    await check(join(tempDir(), 'l.sqlite'));
  });
});

describePg('NUL characters in keys and error messages', () => {
  pgPool();
  it('the PostgreSQL ledger', async () => {
    await check(PG_URL, freshSchema('bg_nul'));
  });
});
