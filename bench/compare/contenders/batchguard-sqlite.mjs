/**
 * batchguard with its SQLite ledger (default checkpointing), the same retry policy as the other
 * contenders (3 attempts, 10 ms apart; errors marked fatal are not retried), CONCURRENCY records in
 * flight. A restart is the same call: runJob resumes from the ledger.
 */
import { join } from 'node:path';
import { defineJob, jsonl, runJob } from '../../../dist/index.js';

export async function run({ data, stateDir, handler, concurrency }) {
  const job = defineJob({
    name: 'bench',
    source: jsonl(data),
    key: (record) => String(record.id),
    handler,
    concurrency,
    retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 10 } },
    classify: (error) => (error?.fatal ? 'fatal' : 'retryable'),
    maxFailureRate: 1,
  });
  const summary = await runJob(job, { ledger: join(stateDir, 'ledger.sqlite') });
  return { failed: summary.failed };
}
