/**
 * The retry policy: `resolveRetry` validates the user's options once; `decideRetry` is a pure
 * function of the resolved policy, the attempt state, the current time and injected randomness.
 */
import type { Random } from '../clock.js';
import { ConfigError } from '../errors.js';
import { backoffDelayMs, resolveBackoff, type BackoffOptions, type ResolvedBackoff } from './backoff.js';
import { Classification } from './classify.js';
import { retryAfterMs } from './retry-after.js';
import { checkKnownKeys, checkNumber, formatValue, isRecord } from '../validation/check.js';

/** The job's `retry` option. Retries stop at whichever of `maxAttempts` and `maxElapsedMs` comes first. */
export interface RetryOptions {
  /** All calls of the handler for one record, the first included: 3 means one call and up to two retries. @default 3 */
  maxAttempts?: number;
  /** Delay between attempts. @default { kind: 'exponential', initialDelayMs: 200, multiplier: 2, maxDelayMs: 30_000, jitter: 'full' } */
  backoff?: BackoffOptions;
  /**
   * Time budget of one record, from the start of its first attempt to the start of the next one
   * (handler time included). No retry is scheduled that would start later. Finite by default because
   * a server's Retry-After is not capped by `maxDelayMs`: an hour-long Retry-After would otherwise hold
   * a concurrency slot for an hour. `Infinity` opts out and relies on `maxAttempts` alone.
   * @default 600_000 (10 minutes)
   */
  maxElapsedMs?: number;
}

/** Retry options with defaults applied, validated and frozen. */
export interface ResolvedRetry {
  readonly maxAttempts: number;
  readonly backoff: ResolvedBackoff;
  readonly maxElapsedMs: number;
}

/** What `decideRetry` needs to know about the attempt that just failed. */
export interface RetryState {
  /** The attempt that just failed, 1-based. */
  attempt: number;
  /** When the record's first attempt started (ms since the epoch, from the injected clock). */
  firstAttemptAtMs: number;
  nowMs: number;
  /** The delay waited before the failed attempt; 0 if it was the first. */
  previousDelayMs: number;
  error: unknown;
  classification: Classification;
}

/** Why no further attempt will be made. */
export const RetryStopReason = {
  fatal: 'fatal',
  attemptsExhausted: 'attempts-exhausted',
  elapsedExhausted: 'elapsed-exhausted',
} as const;
/** Why no further attempt will be made. */
export type RetryStopReason = (typeof RetryStopReason)[keyof typeof RetryStopReason];

/** Retry after `delayMs`, or stop. `retryAfterMs` is the server-directed delay when there was one. */
export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number; readonly retryAfterMs?: number }
  | { readonly retry: false; readonly reason: RetryStopReason };

/** The retry policy used when the job gives none. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** See `RetryOptions.maxElapsedMs`. */
export const DEFAULT_MAX_ELAPSED_MS = 600_000;

// Names people reach for from other libraries; each is a different count or belongs elsewhere.
const KEY_HINTS: Readonly<Record<string, string>> = {
  retries: 'use maxAttempts, which counts all calls including the first (retries + 1)',
  maxRetries: 'use maxAttempts, which counts all calls including the first (maxRetries + 1)',
  attempts: 'use maxAttempts',
  timeoutMs: 'timeoutMs is a job option (per attempt), not a retry option',
};

/** Applies defaults and validates; throws a `ConfigError` naming `field`, the bad value and what is accepted. */
export function resolveRetry(input: RetryOptions | undefined, field = 'retry'): ResolvedRetry {
  const raw: unknown = input ?? {};
  if (!isRecord(raw)) {
    throw new ConfigError(`${field} must be an object such as { maxAttempts: 3 }; got ${formatValue(raw)}`, { field });
  }
  checkKnownKeys(raw, field, ['maxAttempts', 'backoff', 'maxElapsedMs'], KEY_HINTS);
  const maxAttempts = checkNumber(raw.maxAttempts, DEFAULT_MAX_ATTEMPTS, `${field}.maxAttempts`, {
    min: 1,
    integer: true,
    hint: 'all calls, the first included; 1 disables retries',
  });
  const maxElapsedMs = checkNumber(raw.maxElapsedMs, DEFAULT_MAX_ELAPSED_MS, `${field}.maxElapsedMs`, {
    min: 0,
    exclusive: true,
    allowInfinity: true,
    hint: 'milliseconds; Infinity for no limit; to disable retries use maxAttempts: 1',
  });
  const backoff = resolveBackoff(raw.backoff as BackoffOptions | undefined, `${field}.backoff`);
  return Object.freeze({ maxAttempts, backoff, maxElapsedMs });
}

/**
 * Decides what follows a failed attempt. A fatal error stops at once; a spent attempt budget stops;
 * otherwise the delay is the backoff delay, raised to the server-directed delay if one is larger
 * (jitter never shortens a Retry-After and `maxDelayMs` does not cap it); a retry that would start
 * after `maxElapsedMs` since the first attempt stops with `elapsed-exhausted` instead.
 * May throw the `ConfigError` of a custom backoff function that returned an invalid delay.
 */
export function decideRetry(policy: ResolvedRetry, state: RetryState, random: Random): RetryDecision {
  if (state.classification === Classification.fatal) return { retry: false, reason: RetryStopReason.fatal };
  if (state.attempt >= policy.maxAttempts) return { retry: false, reason: RetryStopReason.attemptsExhausted };
  const backoff = backoffDelayMs(policy.backoff, state.attempt, state.previousDelayMs, state.error, random);
  const serverDelayMs = retryAfterMs(state.error, state.nowMs);
  const delayMs = serverDelayMs === undefined ? backoff : Math.max(serverDelayMs, backoff);
  if (state.nowMs + delayMs - state.firstAttemptAtMs > policy.maxElapsedMs) {
    return { retry: false, reason: RetryStopReason.elapsedExhausted };
  }
  return serverDelayMs === undefined ? { retry: true, delayMs } : { retry: true, delayMs, retryAfterMs: serverDelayMs };
}
