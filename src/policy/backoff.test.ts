import { describe, it, expect } from 'vitest';
import { configError } from '../../test/helpers/errors.js';
import { Jitter, backoffDelayMs, defaultBackoff, describeBackoff, resolveBackoff, type BackoffOptions } from './backoff.js';

const half = (): number => 0.5;
const zero = (): number => 0;
const almostOne = (): number => 0.999_999;

describe('resolveBackoff', () => {
  it('defaults to exponential 200ms ×2 up to 30s with full jitter, frozen', () => {
    const b = resolveBackoff(undefined);
    expect(b).toEqual({ kind: 'exponential', initialDelayMs: 200, multiplier: 2, maxDelayMs: 30_000, jitter: 'full' });
    expect(b).toBe(defaultBackoff);
    expect(Object.isFrozen(b)).toBe(true);
  });

  it('fills defaults of each kind', () => {
    expect(resolveBackoff({ kind: 'exponential', maxDelayMs: 5000 })).toEqual({
      kind: 'exponential',
      initialDelayMs: 200,
      multiplier: 2,
      maxDelayMs: 5000,
      jitter: 'full',
    });
    const constant = resolveBackoff({ kind: 'constant' });
    expect(constant).toEqual({ kind: 'constant', delayMs: 1000, jitter: 'none' });
    expect(Object.isFrozen(constant)).toBe(true);
  });

  it('accepts a bare function or a custom kind with a cap', () => {
    expect(resolveBackoff(() => 5)).toMatchObject({ kind: 'custom', maxDelayMs: undefined });
    expect(resolveBackoff({ kind: 'custom', delayMs: () => 5, maxDelayMs: 100 })).toMatchObject({ kind: 'custom', maxDelayMs: 100 });
  });

  it.each<[unknown, string, string]>([
    [
      { kind: 'exponential', jitter: 'fulll' },
      'retry.backoff.jitter',
      'retry.backoff.jitter must be one of none, full, equal, decorrelated (did you mean "full"?); got "fulll"',
    ],
    [
      { kind: 'exponential', initialDelayMs: -1 },
      'retry.backoff.initialDelayMs',
      'retry.backoff.initialDelayMs must be a finite number >= 0 (milliseconds); got -1',
    ],
    [
      { kind: 'exponential', multiplier: 0.5 },
      'retry.backoff.multiplier',
      'retry.backoff.multiplier must be a finite number >= 1 (1 keeps the delay constant); got 0.5',
    ],
    [
      { kind: 'exponential', maxDelayMs: Infinity },
      'retry.backoff.maxDelayMs',
      'retry.backoff.maxDelayMs must be a finite number >= 0 (milliseconds); got Infinity',
    ],
    [
      { kind: 'exponential', maxDelayMs: NaN },
      'retry.backoff.maxDelayMs',
      'retry.backoff.maxDelayMs must be a finite number >= 0 (milliseconds); got NaN',
    ],
    [
      { kind: 'exponential', initialDelayMs: '200' },
      'retry.backoff.initialDelayMs',
      'retry.backoff.initialDelayMs must be a finite number >= 0 (milliseconds); got "200"',
    ],
    [
      { kind: 'exponential', initialDelayMs: 5000, maxDelayMs: 1000 },
      'retry.backoff.initialDelayMs',
      'retry.backoff.initialDelayMs (5000) must not exceed retry.backoff.maxDelayMs (1000); raise maxDelayMs or lower initialDelayMs',
    ],
    [
      { kind: 'exponential', initialDelay: 100 },
      'retry.backoff.initialDelay',
      'retry.backoff.initialDelay is not a known option (did you mean "initialDelayMs"?); got 100; known options: kind, initialDelayMs, multiplier, maxDelayMs, jitter',
    ],
    [
      { kind: 'constant', jitter: 'decorrelated' },
      'retry.backoff.jitter',
      'retry.backoff.jitter must be one of none, full, equal; got "decorrelated"',
    ],
    [
      { kind: 'constant', delayMs: -5 },
      'retry.backoff.delayMs',
      'retry.backoff.delayMs must be a finite number >= 0 (milliseconds); got -5',
    ],
    [{ kind: 'custom', delayMs: 5 }, 'retry.backoff.delayMs', 'retry.backoff.delayMs must be a function (attempt, error) => ms; got 5'],
    [{ kind: 'linear' }, 'retry.backoff.kind', 'retry.backoff.kind must be one of exponential, constant, custom; got "linear"'],
    [{}, 'retry.backoff.kind', 'retry.backoff.kind must be one of exponential, constant, custom; got undefined'],
    [
      null,
      'retry.backoff',
      "retry.backoff must be an object such as { kind: 'exponential' } or a function (attempt, error) => ms; got null",
    ],
    [500, 'retry.backoff', "retry.backoff must be an object such as { kind: 'exponential' } or a function (attempt, error) => ms; got 500"],
  ])('rejects %j', (input, field, message) => {
    const error = configError(() => resolveBackoff(input as BackoffOptions));
    expect(error.field).toBe(field);
    expect(error.message).toBe(message);
  });

  it('uses the given field name in messages', () => {
    expect(configError(() => resolveBackoff({ kind: 'constant', delayMs: -1 }, 'jobs[0].retry.backoff')).field).toBe(
      'jobs[0].retry.backoff.delayMs',
    );
  });
});

describe('backoffDelayMs: exponential', () => {
  const none = resolveBackoff({ kind: 'exponential', initialDelayMs: 100, multiplier: 3, maxDelayMs: 2000, jitter: 'none' });

  it('grows by the multiplier from the initial delay and caps at maxDelayMs', () => {
    const delays = [1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(none, attempt, 0, null, half));
    expect(delays).toEqual([100, 300, 900, 2000, 2000]);
  });

  it('caps without overflowing for huge attempts, and stays 0 with a 0 initial delay', () => {
    expect(backoffDelayMs(none, 10_000, 0, null, half)).toBe(2000);
    const zeroStart = resolveBackoff({ kind: 'exponential', initialDelayMs: 0, jitter: 'none' });
    expect(backoffDelayMs(zeroStart, 10_000, 0, null, half)).toBe(0);
  });

  it('full jitter: uniform in [0, base]', () => {
    const b = resolveBackoff({ kind: 'exponential', jitter: 'full' });
    expect(backoffDelayMs(b, 3, 0, null, half)).toBe(400); // base 800
    expect(backoffDelayMs(b, 3, 0, null, zero)).toBe(0);
    expect(backoffDelayMs(b, 20, 0, null, half)).toBe(15_000); // base capped at 30s
  });

  it('equal jitter: uniform in [base/2, base]', () => {
    const b = resolveBackoff({ kind: 'exponential', jitter: 'equal' });
    expect(backoffDelayMs(b, 3, 0, null, half)).toBe(600);
    expect(backoffDelayMs(b, 3, 0, null, zero)).toBe(400);
    expect(backoffDelayMs(b, 3, 0, null, almostOne)).toBe(800);
  });

  it('decorrelated jitter: between initial and 3× the previous delay, capped', () => {
    const b = resolveBackoff({ kind: 'exponential', initialDelayMs: 100, maxDelayMs: 1000, jitter: 'decorrelated' });
    expect(backoffDelayMs(b, 1, 0, null, half)).toBe(100); // max(initial, 0) = initial
    expect(backoffDelayMs(b, 2, 100, null, half)).toBe(200); // 100 + 0.5 × (300 − 100)
    expect(backoffDelayMs(b, 3, 300, null, half)).toBe(500); // 100 + 0.5 × (900 − 100)
    expect(backoffDelayMs(b, 4, 900, null, almostOne)).toBe(1000); // capped
    expect(backoffDelayMs(b, 4, 900, null, zero)).toBe(100);
  });

  it('rejects an attempt below 1', () => {
    expect(() => backoffDelayMs(none, 0, 0, null, half)).toThrow(RangeError);
  });
});

describe('backoffDelayMs: constant', () => {
  it('applies none, full and equal jitter', () => {
    expect(backoffDelayMs(resolveBackoff({ kind: 'constant', delayMs: 1000 }), 7, 0, null, zero)).toBe(1000);
    expect(backoffDelayMs(resolveBackoff({ kind: 'constant', delayMs: 1000, jitter: 'full' }), 1, 0, null, half)).toBe(500);
    expect(backoffDelayMs(resolveBackoff({ kind: 'constant', delayMs: 1000, jitter: 'equal' }), 1, 0, null, half)).toBe(750);
  });
});

describe('backoffDelayMs: custom function', () => {
  it('passes the attempt and error, rounds, and caps when a cap is given', () => {
    const seen: unknown[] = [];
    const fn = (attempt: number, error: unknown): number => {
      seen.push([attempt, error]);
      return attempt * 1000.4;
    };
    expect(backoffDelayMs(resolveBackoff(fn), 3, 0, 'err', half)).toBe(3001);
    expect(seen).toEqual([[3, 'err']]);
    expect(backoffDelayMs(resolveBackoff({ kind: 'custom', delayMs: fn, maxDelayMs: 2500 }), 3, 0, null, half)).toBe(2500);
  });

  it.each([[NaN], [-1], [Infinity], ['100']])('throws a ConfigError naming the field when the function returns %j', (value) => {
    const b = resolveBackoff((() => value) as unknown as () => number);
    const error = configError(() => backoffDelayMs(b, 2, 0, null, half));
    expect(error.field).toBe('retry.backoff');
    expect(error.message).toBe(
      `retry.backoff returned ${typeof value === 'string' ? `"${value}"` : String(value)} for attempt 2; it must return a finite number of milliseconds >= 0`,
    );
  });
});

describe('describeBackoff', () => {
  it('prints each kind on one line', () => {
    expect(describeBackoff(defaultBackoff)).toBe('exponential from 200ms ×2 up to 30s, full jitter');
    expect(describeBackoff(resolveBackoff({ kind: 'exponential', maxDelayMs: 120_000, jitter: Jitter.decorrelated }))).toBe(
      'exponential from 200ms up to 2min, decorrelated jitter',
    );
    expect(describeBackoff(resolveBackoff({ kind: 'constant', delayMs: 1500 }))).toBe('constant 1.5s, no jitter');
    expect(describeBackoff(resolveBackoff(() => 1))).toBe('custom function, uncapped');
    expect(describeBackoff(resolveBackoff({ kind: 'custom', delayMs: () => 1, maxDelayMs: 5000 }))).toBe('custom function, capped at 5s');
  });
});
