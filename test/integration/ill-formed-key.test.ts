/**
 * A key that is not well-formed text (an unpaired UTF-16 surrogate, as a string cut in the middle of
 * an emoji has) cannot be stored: SQLite and PostgreSQL keep text as UTF-8, where it comes back as
 * U+FFFD, another key. Such a record used to be stored under that other key, and then `rerun
 * --failed` took it for a record that had moved and left it alone for good. It now fails as
 * `invalid` naming the problem, stored under its position like a record without a key, and once the
 * key function makes its keys well-formed, `rerun --failed` processes it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob } from '../../src/job.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { tempDir } from '../helpers/temp.js';

/** String.prototype.toWellFormed (Node 20; not in TypeScript's ES2023 lib). */
const wellFormed = (text: string): string => (text as unknown as { toWellFormed(): string }).toWellFormed();

it('a key with an unpaired surrogate fails its record as invalid; fixed, rerun --failed processes it', async () => {
  const dir = tempDir();
  const path = join(dir, 'in.jsonl');
  // JSON escapes: the file is valid UTF-8, the strings it holds are not well-formed.
  writeFileSync(path, ['{"name":"caf\\ud83d"}', '{"name":"plain"}', '{"name":"\\udfffx"}'].join('\n') + '\n');
  const ledger = join(dir, 'l.sqlite');
  let fixed = false;
  const handled: string[] = [];
  const job = defineJob<{ name: string }>({
    name: 'ill-formed-key',
    source: jsonl(path),
    key: (r) => (fixed ? wellFormed(r.name) : r.name),
    maxFailureRate: 1,
    handler: async (r) => {
      handled.push(wellFormed(r.name));
    },
  });
  const first = await runJob(job, { ledger });
  expect(first).toMatchObject({ total: 3, succeeded: 1, failed: 2 });
  expect(handled).toEqual(['plain']);
  const stored = (await import('../../src/ledger/open-ledger.js')).openLedgerToRead(ledger, job.name);
  const rows = [];
  for await (const row of stored.rows({ statuses: ['failed'] })) rows.push(row);
  await stored.close();
  expect(rows.map((row) => [row.key, row.kind])).toEqual([
    ['@line:1', 'invalid'],
    ['@line:3', 'invalid'],
  ]);
  expect(rows[0]?.error?.message).toBe(
    'job.key returned "caf\\ud83d", which is not well-formed text (an unpaired surrogate at index 3): it cannot be stored and read back the same; ' +
      "keys must be well-formed text without U+0000, at most 2048 bytes (String.prototype.toWellFormed() replaces unpaired surrogates; hash a long key, e.g. createHash('sha256').update(key).digest('hex'))",
  );

  fixed = true;
  handled.length = 0;
  const rerun = await runJob(job, { ledger, rerun: {} });
  expect(rerun.warnings).toEqual([]);
  expect(rerun).toMatchObject({ status: 'completed', total: 3, succeeded: 3, failed: 0 });
  expect(handled.sort()).toEqual(['caf\ufffd', '\ufffdx']);
});
