/**
 * The retry budget: in a sliding window, retries may be at most `ratio` per record started (first
 * attempts) or retry that succeeded, or `minRetries`, whichever is larger. It throttles storms, not
 * normal work: a run where every record needs one retry stays within the default budget (one retry
 * per record), but when failures rise sharply and records want their second, third … retry, the
 * excess waits, so an outage cannot multiply the load on a failing service by `maxAttempts`. A
 * retry that succeeds earns its place back: the service is serving retries, and at the end of a
 * run, where no record starts any more, the budget would otherwise shrink to `minRetries` per
 * window while the last records still have retries to make. A retry the budget refuses is not
 * dropped: it waits one bucket and asks again.
 *
 * "Recent" is a sliding window of `windowMs`, kept as ten buckets of counters: constant memory,
 * O(1) per attempt.
 */
import { ConfigError } from '../errors.js';
import { checkKnownKeys, formatValue } from '../validation/check.js';

export interface RetryBudgetOptions {
  /** Retries per record started (first attempts) or retry that succeeded in the window; any number > 0. @default 1 */
  ratio?: number;
  /** Retries always allowed per window, so a quiet job can still retry. @default 10 */
  minRetries?: number;
  /** The window. @default 10000 */
  windowMs?: number;
  /** `false` turns the budget off. @default true */
  enabled?: boolean;
}

export type ResolvedRetryBudget = Readonly<Required<RetryBudgetOptions>>;

const DEFAULTS: ResolvedRetryBudget = Object.freeze({ ratio: 1, minRetries: 10, windowMs: 10_000, enabled: true });
const BUCKETS = 10;

export function resolveRetryBudget(input: RetryBudgetOptions | undefined, field = 'retryBudget'): ResolvedRetryBudget {
  if (input === undefined) return DEFAULTS;
  if (input === null || typeof input !== 'object')
    throw new ConfigError(`${field} must be an object; got ${formatValue(input)}`, { field });
  checkKnownKeys(input, field, Object.keys(DEFAULTS));
  const merged = { ...DEFAULTS, ...input };
  if (typeof merged.ratio !== 'number' || !(merged.ratio > 0) || !Number.isFinite(merged.ratio))
    throw new ConfigError(`${field}.ratio must be a number of retries per record > 0; got ${formatValue(merged.ratio)}`, {
      field: `${field}.ratio`,
    });
  if (!Number.isInteger(merged.minRetries) || merged.minRetries < 0)
    throw new ConfigError(`${field}.minRetries must be an integer ≥ 0; got ${formatValue(merged.minRetries)}`, {
      field: `${field}.minRetries`,
    });
  if (typeof merged.windowMs !== 'number' || !(merged.windowMs >= BUCKETS))
    throw new ConfigError(`${field}.windowMs must be a number ≥ ${BUCKETS}; got ${formatValue(merged.windowMs)}`, {
      field: `${field}.windowMs`,
    });
  if (typeof merged.enabled !== 'boolean')
    throw new ConfigError(`${field}.enabled must be true or false; got ${formatValue(merged.enabled)}`, { field: `${field}.enabled` });
  return Object.freeze(merged);
}

export class RetryBudget {
  /** First attempts per bucket. */
  private readonly attempts = new Float64Array(BUCKETS);
  private readonly retries = new Float64Array(BUCKETS);
  private readonly bucketMs: number;
  private bucketIndex = 0;
  /** Start of the current bucket; NaN until the first attempt (0 is a valid time for a manual clock). */
  private bucketStart = Number.NaN;
  /** Retries refused so far (each one waited and asked again). */
  refused = 0;
  /** Retries granted so far. */
  granted = 0;

  constructor(private readonly options: ResolvedRetryBudget) {
    this.bucketMs = options.windowMs / BUCKETS;
  }

  /** Counts a first attempt. */
  recordAttempt(nowMs: number): void {
    this.roll(nowMs);
    this.attempts[this.bucketIndex]! += 1;
  }

  /** Counts a retry that succeeded: like a record started, it earns `ratio` retries. */
  retrySucceeded(nowMs: number): void {
    this.recordAttempt(nowMs);
  }

  /**
   * Whether the budget has room for one more retry now (a refusal is counted). It takes nothing:
   * the caller may still have to wait for something else (a rate-limit token) before the retry
   * starts, and counts it then with `retryStarted`.
   */
  mayRetry(nowMs: number): boolean {
    if (!this.options.enabled) return true;
    this.roll(nowMs);
    let attempts = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      attempts += this.attempts[i] as number;
      retries += this.retries[i] as number;
    }
    // After this retry, retries ≤ ratio × records started, or within the floor.
    if (retries + 1 <= Math.max(this.options.minRetries, this.options.ratio * attempts)) return true;
    this.refused++;
    return false;
  }

  /** Counts a retry that starts (after `mayRetry` said yes, in the same turn). */
  retryStarted(nowMs: number): void {
    if (!this.options.enabled) return;
    this.roll(nowMs);
    this.retries[this.bucketIndex]! += 1;
    this.granted++;
  }

  /** How long a refused retry waits before asking again: one bucket, when the window moves. */
  get waitMs(): number {
    return this.bucketMs;
  }

  private roll(nowMs: number): void {
    if (Number.isNaN(this.bucketStart)) this.bucketStart = nowMs;
    while (nowMs - this.bucketStart >= this.bucketMs) {
      this.bucketStart += this.bucketMs;
      this.bucketIndex = (this.bucketIndex + 1) % BUCKETS;
      this.attempts[this.bucketIndex] = 0;
      this.retries[this.bucketIndex] = 0;
      // A long quiet gap: everything is stale; jump instead of looping over every bucket.
      if (nowMs - this.bucketStart > this.options.windowMs) {
        this.attempts.fill(0);
        this.retries.fill(0);
        this.bucketStart = nowMs;
      }
    }
  }
}
