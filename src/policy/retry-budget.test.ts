import { describe, expect, it } from 'vitest';
import { configError } from '../../test/helpers/errors.js';
import { RetryBudget, resolveRetryBudget, type RetryBudgetOptions } from './retry-budget.js';

function budget(options: RetryBudgetOptions = {}): RetryBudget {
  return new RetryBudget(resolveRetryBudget(options));
}

/** Takes a retry as the executor does: asks, then counts it as started. */
function tryRetry(b: RetryBudget, nowMs: number): boolean {
  if (!b.mayRetry(nowMs)) return false;
  b.retryStarted(nowMs);
  return true;
}

/** Takes retries at `nowMs` until one is refused; returns how many were granted. */
function takeAll(b: RetryBudget, nowMs: number, max = 10_000): number {
  let granted = 0;
  while (granted < max && tryRetry(b, nowMs)) granted++;
  return granted;
}

function attempts(b: RetryBudget, n: number, nowMs: number): void {
  for (let i = 0; i < n; i++) b.recordAttempt(nowMs);
}

describe('resolveRetryBudget', () => {
  it('has the documented defaults, frozen', () => {
    expect(resolveRetryBudget(undefined)).toEqual({ ratio: 1, minRetries: 10, windowMs: 10_000, enabled: true });
    expect(Object.isFrozen(resolveRetryBudget(undefined))).toBe(true);
    expect(resolveRetryBudget({ ratio: 0.5, minRetries: 0 })).toEqual({ ratio: 0.5, minRetries: 0, windowMs: 10_000, enabled: true });
    expect(Object.isFrozen(resolveRetryBudget({ ratio: 1 }))).toBe(true);
  });

  it.each<[unknown, string, string]>([
    [3, 'retryBudget must be an object; got 3', 'retryBudget'],
    [null, 'retryBudget must be an object; got null', 'retryBudget'],
    [{ ratoi: 0.1 }, 'retryBudget.ratoi is not a known option (did you mean "ratio"?)', 'retryBudget.ratoi'],
    [{ ratio: 0 }, 'retryBudget.ratio must be a number of retries per record > 0; got 0', 'retryBudget.ratio'],
    [{ ratio: Infinity }, 'retryBudget.ratio must be a number of retries per record > 0; got Infinity', 'retryBudget.ratio'],
    [{ ratio: '20%' }, 'retryBudget.ratio must be a number of retries per record > 0; got "20%"', 'retryBudget.ratio'],
    [{ minRetries: -1 }, 'retryBudget.minRetries must be an integer ≥ 0; got -1', 'retryBudget.minRetries'],
    [{ minRetries: 1.5 }, 'retryBudget.minRetries must be an integer ≥ 0; got 1.5', 'retryBudget.minRetries'],
    [{ windowMs: 9 }, 'retryBudget.windowMs must be a number ≥ 10; got 9', 'retryBudget.windowMs'],
    [{ windowMs: '10s' }, 'retryBudget.windowMs must be a number ≥ 10; got "10s"', 'retryBudget.windowMs'],
    [{ enabled: 1 }, 'retryBudget.enabled must be true or false; got 1', 'retryBudget.enabled'],
  ])('rejects %j naming the field', (input, message, field) => {
    const error = configError(() => resolveRetryBudget(input as RetryBudgetOptions));
    expect(error.message).toContain(message);
    expect(error.field).toBe(field);
  });

  it('shows NaN as itself in its messages, not as JSON null', () => {
    expect(configError(() => resolveRetryBudget({ ratio: NaN })).message).toBe(
      'retryBudget.ratio must be a number of retries per record > 0; got NaN',
    );
  });

  it('accepts minRetries 0, ratio 2.5 and windowMs 10', () => {
    expect(resolveRetryBudget({ minRetries: 0, ratio: 2.5, windowMs: 10 })).toMatchObject({ minRetries: 0, ratio: 2.5, windowMs: 10 });
  });
});

describe('RetryBudget', () => {
  it('grants minRetries retries in a quiet window, then refuses and counts the refusals', () => {
    const b = budget({ ratio: 0.2, minRetries: 3, windowMs: 1000 });
    expect(takeAll(b, 1000)).toBe(3);
    expect(b.refused).toBe(1);
    expect(tryRetry(b, 1000)).toBe(false);
    expect(b.refused).toBe(2);
  });

  it('keeps retries to ratio × records started: 5 retries on 20 first attempts at 0.25', () => {
    const b = budget({ ratio: 0.25, minRetries: 0, windowMs: 10_000 });
    attempts(b, 20, 1000);
    expect(takeAll(b, 1000)).toBe(5);
    expect(b.refused).toBe(1);
    expect(b.granted).toBe(5);
    // 4 more first attempts earn one more retry (6 ≤ 0.25 × 24); 3 do not (6 > 0.25 × 23).
    attempts(b, 3, 1500);
    expect(tryRetry(b, 1500)).toBe(false);
    b.recordAttempt(1500);
    expect(tryRetry(b, 1500)).toBe(true);
    expect(tryRetry(b, 1500)).toBe(false);
    expect(b.refused).toBe(3);
  });

  it('allows whichever is larger, the floor or the ratio (not their sum)', () => {
    const b = budget({ ratio: 1, minRetries: 4, windowMs: 10_000 });
    attempts(b, 10, 1000);
    expect(takeAll(b, 1000)).toBe(10);
    const floorOnly = budget({ ratio: 1, minRetries: 4, windowMs: 10_000 });
    attempts(floorOnly, 2, 1000);
    expect(takeAll(floorOnly, 1000)).toBe(4);
  });

  it('normal work is never held back: every record needing one retry, 200 ms after its first attempt', () => {
    const b = budget();
    // 100 records started per second for a minute, each retried once 200 ms later.
    for (let t = 0; t < 60_000; t += 10) {
      b.recordAttempt(t);
      if (t >= 200) expect(tryRetry(b, t)).toBe(true);
    }
    expect(b.refused).toBe(0);
  });

  it('throttles a storm: records that all want 4 retries get about one each per window', () => {
    const b = budget();
    let granted = 0;
    // 10 records started per second; each then asks for a retry every 100 ms (failures everywhere).
    for (let t = 0; t < 60_000; t += 100) {
      b.recordAttempt(t);
      for (let k = 0; k < 4; k++) if (tryRetry(b, t)) granted++;
    }
    // Unthrottled: 4 per record started (2400); the budget grants one per record started (600).
    expect(granted).toBeLessThanOrEqual(610);
    expect(granted).toBeGreaterThanOrEqual(590);
    expect(b.refused).toBe(2400 - granted);
  });

  it('a retry that succeeded earns a retry back: the end of a run, where no record starts, is not held to the floor', () => {
    const b = budget({ ratio: 1, minRetries: 0, windowMs: 10_000 });
    attempts(b, 4, 1000);
    expect(takeAll(b, 1000)).toBe(4);
    // No record starts any more; the retries that succeed keep the remaining ones going.
    b.retrySucceeded(1100);
    b.retrySucceeded(1100);
    expect(takeAll(b, 1100)).toBe(2);
    // Retries that fail earn nothing: a storm stays throttled.
    expect(tryRetry(b, 1200)).toBe(false);
  });

  it('never refuses when disabled', () => {
    const b = budget({ enabled: false, minRetries: 0 });
    expect(takeAll(b, 1000, 1000)).toBe(1000);
    expect(b.refused).toBe(0);
  });

  it('asks again after one bucket: windowMs / 10', () => {
    expect(budget({ windowMs: 1000 }).waitMs).toBe(100);
    expect(budget().waitMs).toBe(1000);
  });

  it('forgets a bucket exactly windowMs after it began', () => {
    const b = budget({ ratio: 0.1, minRetries: 5, windowMs: 1000 });
    expect(takeAll(b, 1000)).toBe(5);
    expect(tryRetry(b, 1099)).toBe(false);
    expect(tryRetry(b, 1999)).toBe(false);
    // The bucket [1000, 1100) leaves the window at 2000.
    expect(takeAll(b, 2000)).toBe(5);
  });

  it('rolls buckets out one at a time', () => {
    const b = budget({ ratio: 0.1, minRetries: 5, windowMs: 1000 });
    expect(takeAll(b, 1000, 3)).toBe(3);
    expect(takeAll(b, 1550)).toBe(2);
    expect(b.refused).toBe(1);
    // At 2000 the 3 retries of [1000, 1100) are gone, the 2 of [1500, 1600) are not.
    expect(takeAll(b, 2000)).toBe(3);
    expect(tryRetry(b, 2499)).toBe(false);
    // At 2500 those 2 are gone too (the 3 taken at 2000 remain).
    expect(takeAll(b, 2500)).toBe(2);
  });

  it('records started count in the window like retries: they also roll out', () => {
    const b = budget({ ratio: 1, minRetries: 0, windowMs: 1000 });
    attempts(b, 10, 1000);
    expect(takeAll(b, 1000)).toBe(10);
    // A second later the 20 attempts are gone: with no attempts in the window, no retry.
    expect(tryRetry(b, 2000)).toBe(false);
    attempts(b, 2, 2000);
    expect(takeAll(b, 2000)).toBe(2);
  });

  it('after a long quiet gap the window is empty', () => {
    const b = budget({ ratio: 0.1, minRetries: 5, windowMs: 1000 });
    expect(takeAll(b, 1000)).toBe(5);
    expect(takeAll(b, 1_000_000)).toBe(5);
    expect(takeAll(b, 1_000_999)).toBe(0);
    expect(takeAll(b, 1_001_000)).toBe(5);
  });

  it("a clock that starts at 0 (a ManualClock's default) rolls the window like any other start", () => {
    const b = budget({ ratio: 0.1, minRetries: 5, windowMs: 1000 });
    expect(takeAll(b, 0)).toBe(5);
    // Five windows later the retries taken at 0 are long gone.
    expect(takeAll(b, 5000)).toBe(5);
  });

  it('a clock that starts at 0 forgets the first bucket at windowMs, not later', () => {
    const b = budget({ ratio: 0.1, minRetries: 5, windowMs: 1000 });
    expect(takeAll(b, 0, 3)).toBe(3);
    expect(takeAll(b, 50)).toBe(2);
    // [0, 100) leaves the window at 1000.
    expect(takeAll(b, 1000)).toBe(5);
  });
});
