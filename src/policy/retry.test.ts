import { describe, it, expect } from 'vitest';
import { RetryableError } from '../errors.js';
import { configError } from '../../test/helpers/errors.js';
import { Classification } from './classify.js';
import { DEFAULT_MAX_ELAPSED_MS, decideRetry, resolveRetry, type RetryOptions, type RetryState } from './retry.js';

const half = (): number => 0.5;
const T0 = 1_000_000;

function state(overrides: Partial<RetryState> = {}): RetryState {
  return {
    attempt: 1,
    firstAttemptAtMs: T0,
    nowMs: T0 + 50,
    previousDelayMs: 0,
    error: new Error('boom'),
    classification: Classification.retryable,
    ...overrides,
  };
}

describe('resolveRetry', () => {
  it('defaults: 3 attempts, default backoff, 10 minutes, frozen', () => {
    const policy = resolveRetry(undefined);
    expect(policy.maxAttempts).toBe(3);
    expect(policy.maxElapsedMs).toBe(DEFAULT_MAX_ELAPSED_MS);
    expect(policy.maxElapsedMs).toBe(600_000);
    expect(policy.backoff).toMatchObject({ kind: 'exponential', initialDelayMs: 200, jitter: 'full' });
    expect(Object.isFrozen(policy)).toBe(true);
  });

  it('accepts Infinity as an explicit maxElapsedMs', () => {
    expect(resolveRetry({ maxElapsedMs: Infinity }).maxElapsedMs).toBe(Infinity);
  });

  it.each<[unknown, string, string]>([
    [
      { maxAttempts: 0 },
      'retry.maxAttempts',
      'retry.maxAttempts must be an integer >= 1 (all calls, the first included; 1 disables retries); got 0',
    ],
    [
      { maxAttempts: 2.5 },
      'retry.maxAttempts',
      'retry.maxAttempts must be an integer >= 1 (all calls, the first included; 1 disables retries); got 2.5',
    ],
    [
      { maxAttempts: Infinity },
      'retry.maxAttempts',
      'retry.maxAttempts must be an integer >= 1 (all calls, the first included; 1 disables retries); got Infinity',
    ],
    [
      { maxElapsedMs: 0 },
      'retry.maxElapsedMs',
      'retry.maxElapsedMs must be a number > 0 (milliseconds; Infinity for no limit; to disable retries use maxAttempts: 1); got 0',
    ],
    [
      { retries: 2 },
      'retry.retries',
      'retry.retries is not a known option; got 2; use maxAttempts, which counts all calls including the first (retries + 1); known options: maxAttempts, backoff, maxElapsedMs',
    ],
    [
      { backoff: { kind: 'constant', jitter: 'full!' } },
      'retry.backoff.jitter',
      'retry.backoff.jitter must be one of none, full, equal (did you mean "full"?); got "full!"',
    ],
    [3, 'retry', 'retry must be an object such as { maxAttempts: 3 }; got 3'],
  ])('rejects %j', (input, field, message) => {
    const error = configError(() => resolveRetry(input as RetryOptions));
    expect(error.field).toBe(field);
    expect(error.message).toBe(message);
  });

  it('names a custom field', () => {
    expect(configError(() => resolveRetry({ maxAttempts: 0 }, 'defaults.retry')).field).toBe('defaults.retry.maxAttempts');
  });
});

describe('decideRetry', () => {
  const policy = resolveRetry({ maxAttempts: 4, backoff: { kind: 'exponential', initialDelayMs: 100, maxDelayMs: 1000, jitter: 'full' } });

  it('retries with the jittered backoff delay', () => {
    expect(decideRetry(policy, state({ attempt: 1 }), half)).toEqual({ retry: true, delayMs: 50 });
    expect(decideRetry(policy, state({ attempt: 3 }), half)).toEqual({ retry: true, delayMs: 200 });
  });

  it('never retries a fatal error, even with attempts left', () => {
    expect(decideRetry(policy, state({ classification: Classification.fatal }), half)).toEqual({ retry: false, reason: 'fatal' });
  });

  it('stops when the attempt that failed was the last allowed (maxAttempts counts every call)', () => {
    expect(decideRetry(policy, state({ attempt: 3 }), half).retry).toBe(true);
    expect(decideRetry(policy, state({ attempt: 4 }), half)).toEqual({ retry: false, reason: 'attempts-exhausted' });
    expect(decideRetry(resolveRetry({ maxAttempts: 1 }), state(), half)).toEqual({ retry: false, reason: 'attempts-exhausted' });
  });

  it('waits at least the server-directed delay: jitter does not shorten it, maxDelayMs does not cap it', () => {
    const error = new RetryableError('429', { retryAfterMs: 5000 });
    expect(decideRetry(policy, state({ error }), half)).toEqual({ retry: true, delayMs: 5000, retryAfterMs: 5000 });
  });

  it('keeps the backoff delay when it is longer than the server-directed one', () => {
    const error = Object.assign(new Error('503'), { status: 503, headers: { 'retry-after': '0' } });
    const slow = resolveRetry({ backoff: { kind: 'constant', delayMs: 800 } });
    expect(decideRetry(slow, state({ error }), half)).toEqual({ retry: true, delayMs: 800, retryAfterMs: 0 });
  });

  it('reads Retry-After from headers in the cause chain, relative to nowMs', () => {
    const nowMs = Date.parse('2025-06-01T12:00:00Z');
    const response = { status: 429, headers: new Headers({ 'Retry-After': 'Sun, 01 Jun 2025 12:00:20 GMT' }) };
    const error = new Error('wrapped', { cause: Object.assign(new Error('429'), { response }) });
    const decision = decideRetry(policy, state({ error, nowMs, firstAttemptAtMs: nowMs - 1000 }), half);
    expect(decision).toEqual({ retry: true, delayMs: 20_000, retryAfterMs: 20_000 });
  });

  it('stops when the next attempt would start after maxElapsedMs', () => {
    const bounded = resolveRetry({ maxAttempts: 10, maxElapsedMs: 10_000, backoff: { kind: 'constant', delayMs: 1000 } });
    // 9_000 elapsed + 1_000 delay = exactly the budget: allowed.
    expect(decideRetry(bounded, state({ nowMs: T0 + 9000 }), half)).toEqual({ retry: true, delayMs: 1000 });
    expect(decideRetry(bounded, state({ nowMs: T0 + 9001 }), half)).toEqual({ retry: false, reason: 'elapsed-exhausted' });
    // A long Retry-After is what usually hits the budget.
    const error = new RetryableError('busy', { retryAfterMs: 60_000 });
    expect(decideRetry(bounded, state({ error }), half)).toEqual({ retry: false, reason: 'elapsed-exhausted' });
  });

  it('has no elapsed limit with maxElapsedMs: Infinity', () => {
    const unbounded = resolveRetry({ maxElapsedMs: Infinity });
    const error = new RetryableError('busy', { retryAfterMs: 86_400_000 });
    expect(decideRetry(unbounded, state({ error }), half)).toEqual({ retry: true, delayMs: 86_400_000, retryAfterMs: 86_400_000 });
  });

  it('feeds previousDelayMs to decorrelated jitter', () => {
    const decorrelated = resolveRetry({
      backoff: { kind: 'exponential', initialDelayMs: 100, maxDelayMs: 10_000, jitter: 'decorrelated' },
    });
    expect(decideRetry(decorrelated, state({ attempt: 2, previousDelayMs: 1000 }), half)).toEqual({ retry: true, delayMs: 1550 });
  });
});
