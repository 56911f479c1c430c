import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { resolveHealthCheckOptions } from './health-check.js';

function refusal(input: unknown): string {
  try {
    resolveHealthCheckOptions(input as never);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('resolveHealthCheckOptions', () => {
  it('applies the defaults and keeps what is given', () => {
    expect(resolveHealthCheckOptions(undefined)).toEqual({ maxAttempts: 3, delayMs: 1000, timeoutMs: 10_000 });
    expect(resolveHealthCheckOptions({ maxAttempts: 1, delayMs: 0, timeoutMs: 250 })).toEqual({
      maxAttempts: 1,
      delayMs: 0,
      timeoutMs: 250,
    });
  });

  it('refuses a time limit of 0, which only a check that answers without waiting for anything could meet', () => {
    expect(refusal({ timeoutMs: 0 })).toBe('healthCheckPolicy.timeoutMs must be a finite number > 0 (milliseconds per call); got 0');
  });

  it('names the field and the value of every other mistake, in the shape of every option', () => {
    expect(refusal({ maxAttempts: 0 })).toBe('healthCheckPolicy.maxAttempts must be an integer >= 1 (calls, the first included); got 0');
    expect(refusal({ delayMs: -1 })).toBe(
      'healthCheckPolicy.delayMs must be a finite number >= 0 (milliseconds, doubling after each failed call); got -1',
    );
    expect(refusal({ timeoutMs: Infinity })).toBe(
      'healthCheckPolicy.timeoutMs must be a finite number > 0 (milliseconds per call); got Infinity',
    );
    expect(refusal('fast')).toBe('healthCheckPolicy must be an object such as { maxAttempts: 3, timeoutMs: 10000 }; got "fast"');
  });
});
