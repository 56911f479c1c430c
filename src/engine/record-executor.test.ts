import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { defineJob, type JobOptions } from '../job.js';
import { RetryBudget } from '../policy/retry-budget.js';
import { EngineEvents } from './events.js';
import type { ExecutorDeps } from './executor-deps.js';
import { openRecord, type OpenRecord } from './open-record.js';
import { RecordExecutor } from './record-executor.js';

/** An executor over a job whose handler fails with a retryable error until `failures` calls have failed. */
function executorFor(options: { failures: number; job?: Partial<JobOptions<unknown>>; budget?: RetryBudget | undefined }) {
  const clock = new ManualClock(1000);
  let calls = 0;
  const job = defineJob<unknown>({
    name: 'executor',
    source: [],
    key: () => 'r',
    retry: { maxAttempts: 5, backoff: { kind: 'constant', delayMs: 10 } },
    handler: () => {
      calls++;
      if (calls <= options.failures) throw Object.assign(new Error('unavailable'), { status: 503 });
      return 'ok';
    },
    ...options.job,
  });
  const seen = { tokensTaken: 0, retryWaits: [] as number[], succeeded: 0 };
  const deps: ExecutorDeps = {
    job,
    clock,
    random: () => 0,
    events: new EngineEvents([]),
    stats: { attempts: 0, retries: 0, retriesDeferred: 0 },
    move: (entry, phase) => (entry.phase = phase),
    onSucceeded: () => {
      seen.succeeded++;
      return true;
    },
    onOutcome: () => {},
    stopping: () => false,
    budget: 'budget' in options ? options.budget : new RetryBudget(job.retryBudget),
    breaker: { closed: true, isProbe: () => false, succeeded: () => {}, systemicFailure: () => false, hold: () => false },
    limiter: {
      tryTake: () => {
        seen.tokensTaken++;
        return 0;
      },
      slowDown: () => {},
    },
    onParked: () => {},
    onTokenWait: () => {},
    // The test starts the next attempt itself.
    onRetryWait: (_entry, delayMs) => seen.retryWaits.push(delayMs),
  };
  return { executor: new RecordExecutor(deps), deps, seen, calls: () => calls };
}

describe('RecordExecutor', () => {
  it('asks the retry budget before it takes a rate-limit token: a retry the budget refuses burns none', () => {
    // Half a retry per record started, no floor: one record that failed may not retry yet.
    const budget = new RetryBudget({ ratio: 0.5, minRetries: 0, windowMs: 1000, enabled: true });
    const { executor, seen, calls, deps } = executorFor({ failures: 1, budget });
    const entry: OpenRecord = openRecord('r', { seq: 0 }, {});
    executor.attempt(entry);
    expect(calls()).toBe(1);
    expect(seen.tokensTaken).toBe(1);
    expect(seen.retryWaits).toEqual([10]);
    // Asked again and again while the budget refuses: it waits a budget bucket each time, taking no token.
    for (let i = 0; i < 3; i++) executor.attempt(entry);
    expect(seen.retryWaits).toEqual([10, 100, 100, 100]);
    expect(seen.tokensTaken).toBe(1);
    expect(deps.stats.retriesDeferred).toBe(1);
    expect(calls()).toBe(1);
    // Another record started: the budget has room for one retry, which takes its token and runs.
    budget.recordAttempt(1000);
    executor.attempt(entry);
    expect(calls()).toBe(2);
    expect(seen.tokensTaken).toBe(2);
    expect(seen.succeeded).toBe(1);
  });
});
