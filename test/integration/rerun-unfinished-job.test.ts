/**
 * A re-run processes only its selection. When the job itself is not finished (an earlier run was
 * stopped before the end of the source, or records are pending), the re-run's summary must not say
 * "every record succeeded" with nothing to do next: it says the job is not finished and names `run`.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { FatalError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { tempDir } from '../helpers/temp.js';

it('a re-run that fixed every failure of a job stopped half-way says the job is not finished, and that run goes on', async () => {
  const ledger = join(tempDir(), 'l.sqlite');
  const records = Array.from({ length: 200 }, (_, id) => ({ id }));
  let fixed = false;
  const job = defineJob<{ id: number }>({
    name: 'unfinished',
    source: () => records,
    key: (r) => String(r.id),
    maxFailureRate: 1,
    handler: async (r) => {
      if (r.id % 10 === 3 && !fixed) throw new FatalError('bad');
    },
  });
  const first = await runJob(job, { ledger, maxRecords: 50 });
  expect(first).toMatchObject({ status: 'stopped', failed: 5, sourceExhausted: false });
  fixed = true;
  const rerun = await runJob(job, { ledger, rerun: {}, jobFile: 'job.mjs' });
  expect(rerun).toMatchObject({ status: 'completed', failed: 0, succeeded: 50, total: 50, sourceExhausted: false });
  expect(rerun.thisRun).toEqual({ succeeded: 5, failed: 0, skipped: 0 });
  expect(rerun.reason).toBe('no record failed, but the job is not finished: the source not read to its end; `run` goes on');
  expect(rerun.next).toBe(`batchguard run job.mjs --ledger ${ledger}`);
  // And `run` does go on, to a job that is finished.
  const rest = await runJob(job, { ledger, jobFile: 'job.mjs' });
  expect(rest).toMatchObject({ status: 'completed', reason: 'every record succeeded', total: 200, succeeded: 200 });
  expect(rest.next).toBeUndefined();
});
