import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { ConfigError, FatalError, TimeoutError } from '../errors.js';
import { retry, retryPolicy, type RetryNotice } from './retry-policy.js';

function httpError(status: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`HTTP ${status}`), { status, ...extra });
}

/** Runs `retry` on a manual clock until it settles; returns the result or error and the waits. */
async function settle<T>(clock: ManualClock, promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  const result = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  await clock.runAll();
  return result;
}

describe('retry', () => {
  it('retries until the call succeeds, waiting the backoff delays', async () => {
    const clock = new ManualClock();
    const notices: RetryNotice[] = [];
    let calls = 0;
    const out = await settle(
      clock,
      retry(
        () => {
          calls++;
          if (calls < 3) throw httpError(503);
          return 'ok';
        },
        { maxAttempts: 3, clock, random: () => 0.5, onRetry: (n) => notices.push(n) },
      ),
    );
    expect(out.value).toBe('ok');
    expect(calls).toBe(3);
    // Exponential from 200 ms ×2 with full jitter at random() = 0.5: 100, then 200.
    expect(notices.map((n) => [n.attempt, n.delayMs, n.rule])).toEqual([
      [1, 100, 'http-status-503'],
      [2, 200, 'http-status-503'],
    ]);
    expect(clock.now()).toBe(300);
  });

  it('rethrows the last error unchanged when the attempts are used up', async () => {
    const clock = new ManualClock();
    const errors: Error[] = [];
    const out = await settle(
      clock,
      retry(
        () => {
          const error = new Error(`try ${errors.length + 1}`);
          errors.push(error);
          throw error;
        },
        { maxAttempts: 4, clock },
      ),
    );
    expect(errors).toHaveLength(4);
    expect(out.error).toBe(errors[3]);
  });

  it("keeps the call's error as the cause when a custom backoff fails, as a job does", async () => {
    const clock = new ManualClock();
    const failure = httpError(503);
    const returnsNaN = await settle(
      clock,
      retry(
        () => {
          throw failure;
        },
        { backoff: () => NaN, clock },
      ),
    );
    expect(returnsNaN.error).toBeInstanceOf(ConfigError);
    expect((returnsNaN.error as Error).message).toBe(
      'retry.backoff returned NaN for attempt 1; it must return a finite number of milliseconds >= 0',
    );
    expect((returnsNaN.error as Error).cause).toBe(failure);
    const bug = new RangeError('no delay table for attempt 1');
    const throws = await settle(
      clock,
      retry(
        () => {
          throw failure;
        },
        {
          backoff: () => {
            throw bug;
          },
          clock,
        },
      ),
    );
    expect(throws.error).toBe(bug);
    expect(bug.cause).toBe(failure);
  });

  it('stops at once on a fatal error', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const fatal = new FatalError('bad input');
    const out = await settle(
      clock,
      retry(
        () => {
          calls++;
          throw calls === 1 ? httpError(404) : fatal;
        },
        { clock },
      ),
    );
    expect(calls).toBe(1);
    expect((out.error as { status: number }).status).toBe(404);
  });

  it('uses the job classify hook before the built-in rules', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const out = await settle(
      clock,
      retry(
        () => {
          calls++;
          throw new Error('quota');
        },
        { clock, classify: (e) => ((e as Error).message === 'quota' ? 'fatal' : undefined) },
      ),
    );
    expect(calls).toBe(1);
    expect((out.error as Error).message).toBe('quota');
  });

  it('waits at least what the server asked for (Retry-After), past maxDelayMs', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    let calls = 0;
    await settle(
      clock,
      retry(
        () => {
          if (++calls === 1) throw httpError(429, { headers: { 'Retry-After': '45' } });
          return 1;
        },
        { clock, random: () => 0.5, backoff: { kind: 'exponential', maxDelayMs: 1000 }, onRetry: (n) => delays.push(n.delayMs) },
      ),
    );
    expect(delays).toEqual([45_000]);
  });

  it('times out each attempt, aborting its signal, and retries', async () => {
    const clock = new ManualClock();
    const signals: AbortSignal[] = [];
    const out = await settle(
      clock,
      retry(
        ({ signal }) => {
          signals.push(signal);
          return new Promise(() => {});
        },
        { maxAttempts: 2, timeoutMs: 1000, clock, random: () => 0 },
      ),
    );
    expect(out.error).toBeInstanceOf(TimeoutError);
    expect(signals).toHaveLength(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(clock.now()).toBe(2000);
  });

  it('stops when the caller aborts during a wait, rejecting with the reason', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    let calls = 0;
    const promise = retry(
      () => {
        calls++;
        throw httpError(503);
      },
      { maxAttempts: 5, clock, random: () => 1 },
      { signal: controller.signal },
    );
    const result = promise.catch((error: unknown) => error);
    await clock.advance(50);
    controller.abort(new Error('shutting down'));
    expect(((await result) as Error).message).toBe('shutting down');
    expect(calls).toBe(1);
  });

  it('is a reusable, frozen policy object with its resolved options as data', async () => {
    const clock = new ManualClock();
    const policy = retryPolicy({ maxAttempts: 2, backoff: { kind: 'constant', delayMs: 10 }, clock });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(policy.options).toEqual({ maxAttempts: 2, backoff: { kind: 'constant', delayMs: 10, jitter: 'none' }, maxElapsedMs: 600_000 });
    for (const expected of ['a', 'b']) {
      let calls = 0;
      const out = await settle(
        clock,
        policy.execute(() => {
          if (++calls === 1) throw new Error('flaky');
          return expected;
        }),
      );
      expect(out.value).toBe(expected);
    }
  });

  it('refuses bad options with a one-line error naming the option', () => {
    expect(() => retryPolicy({ retries: 3 } as never)).toThrow(ConfigError);
    expect(() => retryPolicy({ retries: 3 } as never)).toThrow(
      /retry\.retries .*use maxAttempts, which counts all calls including the first/,
    );
    expect(() => retryPolicy({ timeoutMs: -1 })).toThrow(/retry\.timeoutMs must be a number > 0/);
    expect(() => retryPolicy({ maxAttempts: 0 })).toThrow(/retry\.maxAttempts must be an integer >= 1/);
  });
});
