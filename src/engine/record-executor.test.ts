import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { defineJob, type JobOptions } from '../job.js';
import { RetryBudget } from '../policy/retry-budget.js';
import { classifyError } from '../policy/classify.js';
import { failureFingerprint } from '../policy/fingerprint.js';
import type { AttemptsEnd } from '../domain/outcome.js';
import type { EngineEvent } from '../events/engine-event.js';
import { EngineEvents } from './events.js';
import type { ExecutorDeps } from './executor-deps.js';
import { openRecord, type OpenRecord } from './open-record.js';
import { RecordExecutor } from './record-executor.js';
import { MAX_HELD_ERRORS, safeSerialize } from './stored-error.js';

/** An executor over a job whose handler fails with a retryable error until `failures` calls have failed. */
function executorFor(options: {
  failures: number;
  job?: Partial<JobOptions<unknown>>;
  budget?: RetryBudget | undefined;
  /** What the failing calls throw (call number, 1-based). */
  error?: (call: number) => Error;
  listener?: (event: EngineEvent) => void;
}) {
  const clock = new ManualClock(1000);
  let calls = 0;
  const job = defineJob<unknown>({
    name: 'executor',
    source: [],
    key: () => 'r',
    retry: { maxAttempts: 5, backoff: { kind: 'constant', delayMs: 10 } },
    handler: () => {
      calls++;
      if (calls <= options.failures) throw options.error?.(calls) ?? Object.assign(new Error('unavailable'), { status: 503 });
      return 'ok';
    },
    ...options.job,
  });
  const seen = { tokensTaken: 0, retryWaits: [] as number[], succeeded: 0, outcomes: [] as AttemptsEnd[], fingerprints: [] as string[] };
  const deps: ExecutorDeps = {
    job,
    clock,
    random: () => 0,
    events: new EngineEvents([{ name: 'test', listener: options.listener, types: ['record:retrying'] }]),
    stats: { attempts: 0, retries: 0, retriesDeferred: 0 },
    move: (entry, phase) => (entry.phase = phase),
    onSucceeded: () => {
      seen.succeeded++;
      return true;
    },
    onOutcome: (_entry, outcome) => seen.outcomes.push(outcome),
    stopping: () => false,
    budget: 'budget' in options ? options.budget : new RetryBudget(job.retryBudget),
    breaker: {
      closed: true,
      isProbe: () => false,
      succeeded: () => {},
      systemicFailure: (_entry, group) => {
        seen.fingerprints.push(group());
        return false;
      },
      hold: () => false,
    },
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

  /** An error that counts the reads of its stack (formatting it is most of what serialising costs). */
  function watched(message: string, reads: { stack: number }): Error {
    const error = Object.assign(new Error(message), { status: 503 });
    const stack = error.stack;
    Object.defineProperty(error, 'stack', {
      get() {
        reads.stack++;
        return stack;
      },
    });
    return error;
  }

  it('never serialises the error of an attempt whose retry succeeds, and gives the breaker its failure group', () => {
    const reads = { stack: 0 };
    const thrown: Error[] = [];
    const { executor, seen } = executorFor({ failures: 1, error: () => thrown[thrown.push(watched('unavailable', reads)) - 1] as Error });
    const entry = openRecord('r', { seq: 0 }, {});
    executor.attempt(entry);
    executor.attempt(entry);
    expect(seen.succeeded).toBe(1);
    expect(reads.stack).toBe(0);
    const { rule } = classifyError(thrown[0]);
    expect(seen.fingerprints).toEqual([failureFingerprint(safeSerialize(thrown[0]), { kind: 'exhausted', rule })]);
  });

  it('stores every attempt of a record that fails for good with its error serialised, as it was thrown', () => {
    const reads = { stack: 0 };
    const thrown: Error[] = [];
    const { executor, seen } = executorFor({
      failures: 5,
      error: (call) => thrown[thrown.push(watched(`unavailable ${call}`, reads)) - 1] as Error,
    });
    const entry = openRecord('r', { seq: 0 }, {});
    for (let i = 0; i < 5; i++) executor.attempt(entry);
    expect(seen.outcomes).toHaveLength(1);
    const outcome = seen.outcomes[0] as Extract<AttemptsEnd, { status: 'failed' }>;
    expect(outcome.error).toEqual(safeSerialize(thrown[4]));
    expect(outcome.history).toStrictEqual(
      thrown.map((error, i) =>
        i < 4
          ? { attempt: i + 1, durationMs: 0, error: safeSerialize(error), delayMs: 10 }
          : { attempt: 5, durationMs: 0, error: safeSerialize(error) },
      ),
    );
    // Once each when stored, and once more for the comparisons above.
    expect(reads.stack).toBe(5 + 5 + 1);
  });

  it('serialises the error of a retried attempt when a listener wants the retry event', () => {
    const events: EngineEvent[] = [];
    const thrown: Error[] = [];
    const { executor } = executorFor({
      failures: 1,
      listener: (event) => events.push(event),
      error: () => thrown[thrown.push(new Error('unavailable')) - 1] as Error,
    });
    executor.attempt(openRecord('r', { seq: 0 }, {}));
    expect(events).toMatchObject([{ type: 'record:retrying', attempt: 1, error: safeSerialize(thrown[0]) }]);
  });

  it("serialises a retried attempt's error at once while MAX_HELD_ERRORS others are held unserialised", () => {
    const reads = { stack: 0 };
    // Each record fails its first call, and succeeds on its retry.
    const handler = (record: unknown): string => {
      const state = record as { failing: boolean };
      if (!state.failing) return 'ok';
      state.failing = false;
      throw watched('unavailable', reads);
    };
    const { executor, seen } = executorFor({ failures: 0, job: { handler } });
    const entries = Array.from({ length: MAX_HELD_ERRORS + 5 }, (_, i) => openRecord(`r${i}`, { seq: i }, { failing: true }));
    for (const entry of entries) executor.attempt(entry);
    expect(seen.retryWaits).toHaveLength(MAX_HELD_ERRORS + 5);
    expect(reads.stack).toBe(5);
    // Records that succeed let go of what their histories held: the next failure is held again.
    for (const entry of entries.slice(0, 10)) executor.attempt(entry);
    expect(seen.succeeded).toBe(10);
    executor.attempt(openRecord('next', { seq: MAX_HELD_ERRORS + 5 }, { failing: true }));
    expect(seen.retryWaits).toHaveLength(MAX_HELD_ERRORS + 6);
    expect(reads.stack).toBe(5);
  });
});
