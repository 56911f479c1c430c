/**
 * Text that PostgreSQL cannot store as it is. Its text cannot hold the NUL character (U+0000:
 * "invalid byte sequence for encoding UTF8: 0x00"), and its index on record keys cannot hold a key
 * of more than ~2,700 bytes ("index row size … exceeds btree version 4 maximum 2704"). One handler
 * error whose message held U+0000, or one failed record with such a key, failed the whole commit,
 * and the run stopped (exit 4), again at every run: one record stopped the job. A message is now
 * stored with U+0000 escaped in its failure group's template (the error itself is stored as JSON,
 * which escapes it); such a key is refused (its record fails as invalid), on every ledger alike.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { FatalError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

/** Bytes of UTF-8 that PostgreSQL cannot compress: as many as a key may have (2,048), and one more. */
const RANDOM = randomBytes(1536).toString('base64');
const AT_LIMIT = `${RANDOM.slice(0, 2046)}é`;
const LONG_KEY = `${RANDOM.slice(1, 2048)}é`;

const job = defineJob<{ id: string }>({
  name: 'unstorable-text',
  source: [{ id: 'a\u0000b' }, { id: 'plain' }, { id: 'err' }, { id: LONG_KEY }, { id: AT_LIMIT }],
  key: (r) => r.id,
  maxFailureRate: 1,
  handler: async (r) => {
    if (r.id === 'err') throw new FatalError('bad\u0000byte');
    if (r.id === LONG_KEY) throw new FatalError('the record with a long key ran');
    // Stored as a row (a failure): its key goes into PostgreSQL's index, as long as a key may be.
    if (r.id === AT_LIMIT) throw new FatalError('at the limit');
  },
});

async function check(ledger: string, pgSchema?: string): Promise<void> {
  const summary = await runJob(job, { ledger, pgSchema });
  expect(summary).toMatchObject({ status: 'completed', total: 5, succeeded: 1, failed: 4 });
  const { ledger: stored } = openLedger(ledger, { job: job.name, pgSchema });
  try {
    const rows = [];
    for await (const row of stored.rows({ statuses: ['failed'] })) rows.push(row);
    expect(rows.map((row) => [row.key, row.kind])).toEqual([
      ['@seq:0', 'invalid'],
      ['err', 'fatal'],
      ['@seq:3', 'invalid'],
      [AT_LIMIT, 'fatal'],
    ]);
    expect(rows[0]?.error?.message).toContain(
      'job.key returned "a\\u0000b", which holds a NUL character (U+0000) at index 1: PostgreSQL cannot store it;',
    );
    expect(rows[1]?.error?.message).toBe('bad\u0000byte');
    expect(rows[1]?.template).toBe('bad\\0byte');
    expect(rows[2]?.error?.message).toContain('which is 2049 bytes long in UTF-8, more than the 2048 a ledger indexes;');
  } finally {
    await stored.close();
  }
}

describe('U+0000 in keys and error messages, and a key too long', () => {
  it('the SQLite ledger', async () => {
    await check(join(tempDir(), 'l.sqlite'));
  });
});

describePg('U+0000 in keys and error messages, and a key too long', () => {
  pgPool();
  it('the PostgreSQL ledger', async () => {
    await check(PG_URL, freshSchema('bg_unstorable'));
  });
});
