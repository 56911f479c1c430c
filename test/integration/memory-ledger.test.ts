/**
 * `ledger: 'memory'`: a run that keeps nothing after it ends, creates no file, and still gives a
 * full summary; and a ledger the caller opened, which the run uses and leaves open.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FatalError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { MemoryLedgerStore } from '../../src/ledger/memory/memory-ledger.js';
import { runJob } from '../../src/engine/run-job.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { itemsJob } from '../helpers/jobs.js';
import { tempDir } from '../helpers/temp.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('the memory ledger', () => {
  it("completes a job with ledger: 'memory' and creates no file, in the working folder or beside the job", async () => {
    const jobDir = tempDir();
    const cwd = tempDir();
    const data = join(jobDir, 'records.jsonl');
    writeFileSync(data, Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: i })).join('\n') + '\n');
    const job = defineJob({
      name: 'memory-job',
      source: jsonl<{ id: number }>(data),
      key: (r) => String(r.id),
      maxFailureRate: 1,
      handler: async (r) => {
        if (r.id % 10 === 0) throw new FatalError(`bad ${r.id}`);
        return r.id;
      },
    });
    const summary = await runJob(job, { ledger: 'memory', cwd, jobFile: join(jobDir, 'job.ts') });
    expect(summary).toMatchObject({ status: 'completed', total: 50, succeeded: 45, failed: 5, ledger: 'memory' });
    expect(summary.topErrors[0]?.count).toBe(5);
    expect(summary.reports).toBeUndefined();
    expect(filesUnder(cwd)).toEqual([]);
    expect(filesUnder(jobDir)).toEqual(['records.jsonl']);
  });

  it('takes a ledger the caller opened, records into it, and leaves it open for the caller to read', async () => {
    const store = new MemoryLedgerStore();
    const ledger = store.open();
    try {
      const job = itemsJob('caller-ledger', 20, {
        handler: async (r) => {
          if (r.id === 3) throw new FatalError('three');
          return r.id;
        },
        maxFailureRate: 1,
      });
      const summary = await runJob(job, { ledger, cwd: tempDir() });
      expect(summary).toMatchObject({ status: 'completed', succeeded: 19, failed: 1 });
      expect(await ledger.counts()).toMatchObject({ total: 20, succeeded: 19, failed: 1 });
      const again = await runJob(job, { ledger, cwd: tempDir() });
      expect(again).toMatchObject({ status: 'completed', alreadyDone: 20 });
    } finally {
      await ledger.close();
      store.close();
    }
  });

  it('opens a postgres:// location without connecting, and shows it without its password', async () => {
    const { ledger } = openLedger('postgres://u:secret@db/x', { job: 'j' });
    expect(ledger.location).toBe('postgres://u@db:5432/x (schema batchguard)');
    await ledger.close();
  });
});
