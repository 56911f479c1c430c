/**
 * A stop (Ctrl-C, SIGTERM, the `signal` option) while the health check runs before the first record.
 * Before, the run waited for the check to end (each call up to `healthCheckPolicy.timeoutMs`, with
 * its delays between calls: half a minute by default), deaf to a second Ctrl-C too, when the check
 * hung. Now the stop aborts the check's `signal` and ends the run at once: interrupted, no record run.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob } from '../../src/job.js';
import { tempDir } from '../helpers/temp.js';

it.each([
  // The call in progress is abandoned, its signal aborted.
  ['hangs, deaf to its signal', () => new Promise(() => {}), true],
  // The wait before the next call ends; the call that failed had ended.
  ['fails, then waits between calls', () => Promise.reject(new Error('down')), false],
])('a stop while the health check %s ends the run at once, interrupted', async (_, healthCheck, abortsCall) => {
  const handled: number[] = [];
  let checkSignal: AbortSignal | undefined;
  const job = defineJob<{ id: number }>({
    name: 'stop-health',
    source: [{ id: 1 }, { id: 2 }],
    key: (r) => String(r.id),
    handler: async (r) => {
      handled.push(r.id);
    },
    healthCheck: (signal) => {
      checkSignal = signal;
      return healthCheck();
    },
    healthCheckPolicy: { maxAttempts: 5, delayMs: 20_000, timeoutMs: 30_000 },
  });
  const stop = new AbortController();
  setTimeout(() => stop.abort('SIGINT'), 300);
  const started = Date.now();
  const summary = await runJob(job, { ledger: join(tempDir(), 'l.sqlite'), signal: stop.signal });
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(summary).toMatchObject({ status: 'interrupted', thisRun: { succeeded: 0, failed: 0, skipped: 0 } });
  expect(summary.reason).toContain('stopped by SIGINT');
  expect(handled).toEqual([]);
  expect(checkSignal?.aborted).toBe(abortsCall);
});
