/**
 * A re-run of failed records is made of records that failed: a run of them failing again in a row
 * is those records' own failures, not an outage. Before, `rerun --failed` over records that still
 * failed with a retryable error opened the breaker after 20 of them, probed with the next ones
 * (which failed too), and waited `maxOpenMs` (10 minutes by default) to abort. A failure that
 * repeats the record's recorded failure (the same group) now counts neither way, as a fatal error;
 * a different failure (the service down now) still opens the breaker. A shared rerun's chunks carry
 * the groups of the failures their records were selected for, so its workers tell the same.
 */
import { describe, expect, it } from 'vitest';
import { runWorker } from '../../src/distributed/run-worker.js';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob } from '../../src/job.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { ManualClock, memoryLedger } from '../../src/testing/index.js';
import { writeJsonl } from '../helpers/cli.js';
import { drive } from '../helpers/drive.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 300;
/** Every tenth record is bad: 30 of them, never two in a row, so the first run opens no breaker. */
const bad = (id: number) => id % 10 === 3;

function jobFailing(error: (id: number) => Error | undefined) {
  return defineJob<{ id: number }>({
    name: 'rerun-breaker',
    source: () => Array.from({ length: RECORDS }, (_, id) => ({ id })),
    key: (r) => String(r.id),
    concurrency: 4,
    retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 10 } },
    breaker: { maxOpenMs: 60_000 },
    handler: async (r) => {
      const failure = error(r.id);
      if (failure) throw failure;
    },
  });
}

const rejected = (id: number) => (bad(id) ? new Error(`bad id ${id}: upstream said 422`) : undefined);

async function firstRun(clock: ManualClock, ledger: ReturnType<typeof memoryLedger>) {
  const summary = await drive(runJob(jobFailing(rejected), { ledger, clock, maxFailureRate: 1 }), clock, 10);
  expect(summary.thisRun.failed).toBe(30);
  expect(summary.breaker.trips).toBe(0);
}

describe('a re-run of failed records', () => {
  it('whose records fail again as they did: they fail, the breaker stays closed, the run ends', async () => {
    const clock = new ManualClock();
    const ledger = memoryLedger();
    await firstRun(clock, ledger);
    const startedAt = clock.now();
    const summary = await drive(runJob(jobFailing(rejected), { ledger, clock, maxFailureRate: 1, rerun: {} }), clock, 10);
    expect(summary.breaker.trips).toBe(0);
    expect(summary.status).toBe('completed');
    expect(summary.thisRun.failed).toBe(30);
    expect(summary.pending).toBe(0);
    // Two attempts each, 10 ms apart: nothing near the breaker's minute.
    expect(clock.now() - startedAt).toBeLessThan(5_000);
    await ledger.close();
  });

  it('whose records now fail otherwise, as in an outage: the breaker opens and they stay failed as before, not failed anew', async () => {
    const clock = new ManualClock();
    const ledger = memoryLedger();
    await firstRun(clock, ledger);
    const down = () => Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:443'), { code: 'ECONNREFUSED' });
    const summary = await drive(runJob(jobFailing(down), { ledger, clock, maxFailureRate: 1, rerun: {} }), clock, 100);
    expect(summary.breaker.trips).toBeGreaterThanOrEqual(1);
    expect(summary.status).toBe('aborted');
    // The records the outage hit before it was named failed with its error; the rest were parked.
    const refused = [];
    for await (const row of ledger.rows({ statuses: ['failed'] })) if (row.error?.message.includes('ECONNREFUSED')) refused.push(row.key);
    expect(refused.length).toBeLessThan(30);
    await ledger.close();
  });
});

describePg('a shared re-run of failed records', () => {
  pgPool();

  it('whose records fail again as they did: two workers end it, the breaker closed', async () => {
    const schema = freshSchema('bg_rerun_breaker');
    const job = defineJob<{ id: number }>({
      name: 'rerun-breaker-shared',
      source: jsonl(writeJsonl(tempDir(), 'in.jsonl', RECORDS)),
      key: (r) => String(r.id),
      concurrency: 4,
      retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 10 } },
      // Opened, the breaker would hold the rerun this long before aborting it.
      breaker: { maxOpenMs: 20_000 },
      maxFailureRate: 1,
      handler: async (r) => {
        const failure = rejected(r.id);
        if (failure) throw failure;
      },
    });
    const options = { ledger: PG_URL, pgSchema: schema, recordsPerChunk: 100 };
    await Promise.all([0, 1].map(() => runWorker(job, options)));
    const started = Date.now();
    const results = await Promise.all([0, 1].map(() => runWorker(job, { ...options, recordsPerChunk: 10, rerun: {} })));
    for (const result of results)
      expect(result).toMatchObject({ status: 'completed', shared: { total: 30, failed: 30, breaker: 'closed' } });
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
