/**
 * The testing entry as a job's own tests use it: a run on a memory ledger the test keeps, with
 * retries driven by the manual clock instead of real waits.
 */
import { describe, expect, it } from 'vitest';
import { runJob } from '../engine/run-job.js';
import { RetryableError } from '../errors.js';
import { defineJob } from '../job.js';
import { ManualClock, memoryLedger } from './index.js';

describe('batchguard/testing', () => {
  it('runs a job on a memory ledger the test can read and resume, with retry delays on the manual clock', async () => {
    const clock = new ManualClock(1_000);
    const calls: { key: string; at: number }[] = [];
    const job = defineJob({
      name: 'testing-entry',
      source: [{ id: 1 }, { id: 2 }, { id: 3 }],
      key: (r) => String(r.id),
      retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 60_000, jitter: 'none' } },
      maxFailureRate: 1,
      handler: async (r, ctx) => {
        calls.push({ key: ctx.key, at: clock.now() });
        if (r.id === 2 && ctx.attempt < 3) throw new RetryableError('busy');
        return r.id;
      },
    });
    const ledger = memoryLedger();
    try {
      let settled = false;
      const running = runJob(job, { ledger, clock }).finally(() => (settled = true));
      // Record 2 waits a minute of manual time between its attempts; nothing waits in real time.
      for (let step = 0; !settled && step < 10_000; step++) await clock.advance(1_000);
      const summary = await running;
      expect(summary).toMatchObject({ status: 'completed', succeeded: 3, failed: 0, retries: 2 });
      expect(calls.filter((c) => c.key === '2').map((c) => c.at)).toEqual([1_000, 61_000, 121_000]);
      expect(await ledger.counts()).toMatchObject({ total: 3, succeeded: 3 });
      const again = await runJob(job, { ledger, clock });
      expect(again).toMatchObject({ status: 'completed', alreadyDone: 3 });
    } finally {
      await ledger.close();
    }
  });

  it('refuses a lease that cannot work, naming the field', () => {
    expect(() => memoryLedger({ expireMs: 10 })).toThrow(/memoryLedger\(lease\)\.expireMs/);
  });
});
