import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { BreakerOpenError, ConfigError } from '../errors.js';
import { circuitBreaker, type CircuitBreakerState } from './circuit-breaker.js';
import { retry } from './retry-policy.js';
import { fingerprint } from './error-tools.js';

const down = (): never => {
  throw Object.assign(new Error('service unavailable'), { status: 503 });
};
const up = (): string => 'ok';

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => value,
    (error: unknown) => error,
  );
}

describe('circuitBreaker', () => {
  it('opens after consecutive failures and refuses calls without making them', async () => {
    const clock = new ManualClock(1000);
    const breaker = circuitBreaker({ consecutiveFailures: 3, probeDelayMs: 5000, clock });
    for (let i = 0; i < 3; i++) await outcome(breaker.execute(down));
    expect(breaker.state).toBe('open');
    expect(breaker.trip?.reason).toBe('consecutive-failures');
    let called = false;
    const refused = await outcome(breaker.execute(() => (called = true)));
    expect(called).toBe(false);
    expect(refused).toBeInstanceOf(BreakerOpenError);
    expect((refused as BreakerOpenError).retryAfterMs).toBe(5000);
    expect((refused as Error).message).toMatch(/^the circuit breaker is open: 3 attempts in a row failed/);
  });

  it('names its trip with the failure group of the dominant error, without formatting any stack', async () => {
    const breaker = circuitBreaker({ consecutiveFailures: 3, clock: new ManualClock(1000) });
    let stackReads = 0;
    const failing = (): never => {
      const error = Object.assign(new Error('service unavailable'), { status: 503 });
      const stack = error.stack;
      Object.defineProperty(error, 'stack', {
        get() {
          stackReads++;
          return stack;
        },
      });
      throw error;
    };
    for (let i = 0; i < 3; i++) await outcome(breaker.execute(failing));
    const failure = Object.assign(new Error('service unavailable'), { status: 503 });
    expect(breaker.trip?.fingerprint).toBe(fingerprint(failure, { kind: 'exhausted', rule: 'http-status-503' }).fingerprint);
    expect(stackReads).toBe(0);
  });

  it("passes the call's own error through unchanged", async () => {
    const breaker = circuitBreaker({ clock: new ManualClock() });
    const error = new Error('mine');
    expect(
      await outcome(
        breaker.execute(() => {
          throw error;
        }),
      ),
    ).toBe(error);
  });

  it('closes after N successful probes, one probe at a time, and doubles the wait after a failed probe', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ consecutiveFailures: 2, probeSuccesses: 2, probeDelayMs: 1000, clock });
    await outcome(breaker.execute(down));
    await outcome(breaker.execute(down));
    expect(breaker.state).toBe('open');
    await clock.advance(1000);
    // The first call after the delay is the probe; it fails: open again, next probe in 2 s.
    await outcome(breaker.execute(down));
    expect(breaker.state).toBe('open');
    await clock.advance(1000);
    expect(await outcome(breaker.execute(up))).toBeInstanceOf(BreakerOpenError);
    await clock.advance(1000);
    let release = (): void => {};
    const probe = breaker.execute(() => new Promise<string>((resolve) => (release = () => resolve('probe'))));
    expect(breaker.state).toBe('half-open');
    // While the probe runs, other calls are refused.
    expect(await outcome(breaker.execute(up))).toBeInstanceOf(BreakerOpenError);
    release();
    expect(await probe).toBe('probe');
    expect(breaker.state).toBe('half-open');
    expect(await breaker.execute(up)).toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('opens on the failure rate over its window', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({
      consecutiveFailures: 100,
      failureRate: 0.5,
      windowRecords: 10,
      minRecords: 10,
      minSuccessRate: 0,
      clock,
    });
    for (let i = 0; i < 9; i++) await outcome(breaker.execute(i % 2 === 0 ? down : up));
    expect(breaker.state).toBe('closed');
    await outcome(breaker.execute(down));
    expect(breaker.state).toBe('open');
    expect(breaker.trip?.reason).toBe('failure-rate');
  });

  it('opens when a success completes a failure-rate trip, and waits the probe delay before probing', async () => {
    const clock = new ManualClock(1000);
    const breaker = circuitBreaker({
      consecutiveFailures: 100,
      failureRate: 0.5,
      windowRecords: 10,
      minRecords: 10,
      probeDelayMs: 5000,
      clock,
    });
    // 5 failures in 9 records: under minRecords. The 10th record succeeds: 5 of 10 failed, ≥ 50%.
    for (let i = 0; i < 9; i++) await outcome(breaker.execute(i % 2 === 0 ? down : up));
    expect(breaker.state).toBe('closed');
    expect(await breaker.execute(up)).toBe('ok');
    expect(breaker.state).toBe('open');
    expect(breaker.trip?.reason).toBe('failure-rate');
    expect(breaker.toJSON().nextProbeAtMs).toBe(6000);
    let called = false;
    const refused = await outcome(breaker.execute(() => (called = true)));
    expect(called).toBe(false);
    expect(refused).toBeInstanceOf(BreakerOpenError);
    expect((refused as BreakerOpenError).retryAfterMs).toBe(5000);
    await clock.advance(5000);
    expect(await breaker.execute(up)).toBe('ok');
    expect(breaker.state).toBe('half-open');
  });

  it('does not count record-specific (fatal) errors', async () => {
    const breaker = circuitBreaker({ consecutiveFailures: 2, clock: new ManualClock() });
    for (let i = 0; i < 5; i++) {
      await outcome(
        breaker.execute(() => {
          throw Object.assign(new Error('not found'), { status: 404 });
        }),
      );
    }
    expect(breaker.state).toBe('closed');
  });

  it('saves its state with toJSON and a new breaker restored from it stays open', async () => {
    const clock = new ManualClock();
    const first = circuitBreaker({ consecutiveFailures: 2, probeDelayMs: 60_000, clock });
    await outcome(first.execute(down));
    await outcome(first.execute(down));
    const saved = JSON.parse(JSON.stringify(first)) as CircuitBreakerState;
    expect(saved.state).toBe('open');
    const second = circuitBreaker({ consecutiveFailures: 2, probeDelayMs: 60_000, clock, state: saved });
    expect(second.state).toBe('open');
    expect(await outcome(second.execute(up))).toBeInstanceOf(BreakerOpenError);
    await clock.advance(60_000);
    expect(await second.execute(up)).toBe('ok');
    // A closed breaker with one failure behind it keeps counting from there.
    const third = circuitBreaker({ consecutiveFailures: 2, clock });
    await outcome(third.execute(down));
    const fourth = circuitBreaker({ consecutiveFailures: 2, clock });
    fourth.restore(third.toJSON());
    await outcome(fourth.execute(down));
    expect(fourth.state).toBe('open');
  });

  it('refuses a damaged state naming the field', () => {
    const breaker = circuitBreaker({ clock: new ManualClock() });
    const good = breaker.toJSON();
    expect(() => breaker.restore({ ...good, state: 'ajar' } as never)).toThrow(
      new ConfigError('breaker.state.state must be one of closed, open, half-open; got "ajar"', { field: 'breaker.state.state' }),
    );
    expect(() => breaker.restore({ ...good, records: [1] } as never)).toThrow(/breaker\.state\.records must be an array of true\/false/);
    expect(() => circuitBreaker({ maxOpenMs: 5 } as never)).toThrow(/maxOpenMs ends a job run/);
  });

  it('refuses a clock that is not one, naming the option', () => {
    expect(() => circuitBreaker({ clock: { now: () => 0 } as never })).toThrow(
      new ConfigError('breaker.clock must be a Clock with now(), sleep() and timer(); got {}', { field: 'breaker.clock' }),
    );
  });

  it('composes with retry: a refused call waits for the probe', async () => {
    const clock = new ManualClock();
    const breaker = circuitBreaker({ consecutiveFailures: 2, probeDelayMs: 3000, probeSuccesses: 1, clock });
    let serviceUp = false;
    const call = (): Promise<string> => breaker.execute(() => (serviceUp ? 'ok' : down()));
    const delays: number[] = [];
    const result = retry(call, { maxAttempts: 4, clock, random: () => 0, onRetry: (n) => delays.push(n.delayMs) });
    const settled = result.then((v) => v);
    await clock.advance(0);
    serviceUp = true;
    await clock.runAll();
    expect(await settled).toBe('ok');
    // Two real failures (backoff 0 with random() = 0; the second opens the breaker), then the
    // breaker's refusal, whose Retry-After (3 s) is the wait, then the probe succeeds.
    expect(delays).toEqual([0, 0, 3000]);
  });

  it('with enabled: false, passes every call through', async () => {
    const breaker = circuitBreaker({ enabled: false, consecutiveFailures: 1, clock: new ManualClock() });
    for (let i = 0; i < 3; i++) await outcome(breaker.execute(down));
    expect(await breaker.execute(up)).toBe('ok');
  });
});
