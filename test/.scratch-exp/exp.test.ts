import { join } from 'node:path';
import { it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { defineJob } from '../../src/job.js';
import { runJob } from '../../src/engine/run-job.js';
import { drive } from '../helpers/drive.js';
import { tempDir } from '../helpers/temp.js';

for (const [label, opts] of [
  ['defaults', {}],
  ['maxAttempts3-constant', { retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 100 } } }],
  ['maxAttempts3-nobudget', { retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 100 } }, retryBudget: { enabled: false } }],
] as const) {
  it(label, async () => {
    const clock = new ManualClock(1_000_000);
    const downFrom = 1_000_000 + 1000;
    const job = defineJob<{ id: number }>({
      name: 'exp', source: Array.from({ length: 2000 }, (_, i) => ({ id: i })), key: (r) => String(r.id),
      handler: async () => { await clock.sleep(20); if (clock.now() >= downFrom && clock.now() < downFrom + 120_000) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }); },
      ...(opts as object),
    });
    const s = await drive(runJob(job, { ledger: join(tempDir(), 'l.sqlite'), clock, maxFailureRate: 1 }), clock, 50);
    console.log(label, JSON.stringify({ status: s.status, failed: s.failed, succeeded: s.succeeded, trips: s.breaker.trips, deferred: s.breaker.retriesDeferred, lastTrip: s.breaker.lastTrip?.description, elapsed: s.elapsedMs }));
  });
}
