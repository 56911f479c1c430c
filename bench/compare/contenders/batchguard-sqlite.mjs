/**
 * batchguard with its SQLite ledger, running the job of batchguard-job.mjs. A restart is the same
 * call: runJob resumes from the ledger.
 */
import { join } from 'node:path';
import { runJob } from '../../../dist/bundle/index.js';
import { benchJob } from './batchguard-job.mjs';

export async function run({ data, stateDir, handler, concurrency }) {
  const job = benchJob({ data, handler, concurrency });
  const summary = await runJob(job, { ledger: join(stateDir, 'ledger.sqlite') });
  return { failed: summary.failed };
}
