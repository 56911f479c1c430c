/**
 * A token bucket with an injected clock. Taking never sleeps: `tryTake` answers "0, taken" or "wait
 * this many ms", so the engine can arm one timer instead of parking a promise per record, and tests
 * drive it with a ManualClock.
 */
import type { Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import { checkKnownKeys, checkNumber, formatValue, isRecord } from '../validation/check.js';

/** A rate limit as the user writes it. */
export interface RateLimitOptions {
  /** Tokens (calls) added per second, continuously; a finite number > 0 (0.5 is one call every 2 s). */
  perSecond: number;
  /**
   * Most tokens held at once: how many calls may go back to back after an idle spell. The default is
   * 100 ms worth of tokens (at least 1), not a whole second's worth: with `burst = perSecond` a fresh
   * bucket lets 2 × perSecond calls through in its first second, which is exactly what a service that
   * counts per second rejects; 100 ms worth still absorbs timer lateness without losing throughput.
   * @default Math.max(1, Math.ceil(perSecond / 10))
   */
  burst?: number;
}

/** A rate limit with its default applied, validated and frozen (plain data: it can be stored and printed). */
export interface ResolvedRateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/** The default `burst` for a rate: 100 ms worth of tokens, at least 1. */
export function defaultBurst(perSecond: number): number {
  return Math.max(1, Math.ceil(perSecond / 10));
}

/** Applies the default burst and validates; a `ConfigError` names `field`, the bad value and what is accepted. */
export function resolveRateLimit(input: unknown, field = 'rateLimit'): ResolvedRateLimit {
  if (!isRecord(input)) {
    throw new ConfigError(`${field} must be an object such as { perSecond: 10, burst: 5 }; got ${formatValue(input)}`, { field });
  }
  checkKnownKeys(input, field, ['perSecond', 'burst'], { rate: 'use perSecond', rps: 'use perSecond', max: 'use burst' });
  if (input.perSecond === undefined) {
    throw new ConfigError(`${field}.perSecond is required (calls per second, e.g. 10 or 0.5); got undefined`, {
      field: `${field}.perSecond`,
    });
  }
  const perSecond = checkNumber(input.perSecond, 0, `${field}.perSecond`, {
    min: 0,
    exclusive: true,
    hint: 'calls per second; 0.5 is one call every 2 s',
  });
  const burst = checkNumber(input.burst, defaultBurst(perSecond), `${field}.burst`, {
    min: 1,
    integer: true,
    hint: 'calls allowed back to back',
  });
  return Object.freeze({ perSecond, burst });
}

// Float drift (0.1 + 0.2 style) must not turn "exactly one token" into "wait 1 ms more".
const EPSILON = 1e-9;

/**
 * `perSecond` tokens flow in continuously (fractional tokens count) up to `burst`; the bucket starts
 * full. Construction re-checks only the numbers (cheap enough to create one per key); user input goes
 * through `resolveRateLimit` first, which also rejects unknown fields.
 */
export class TokenBucket {
  readonly perSecond: number;
  readonly burst: number;
  private held: number;
  private refilledAtMs: number;
  private pausedUntil = -Infinity;

  constructor(
    limit: RateLimitOptions,
    private readonly clock: Clock,
  ) {
    const { perSecond, burst } = limit;
    const valid = Number.isFinite(perSecond) && perSecond > 0 && (burst === undefined || (Number.isInteger(burst) && burst >= 1));
    const resolved = valid ? { perSecond, burst: burst ?? defaultBurst(perSecond) } : resolveRateLimit(limit);
    this.perSecond = resolved.perSecond;
    this.burst = resolved.burst;
    this.held = this.burst;
    this.refilledAtMs = clock.now();
  }

  /** Takes a token if one is available: returns 0 when taken, else the whole ms to wait until one is (nothing taken). */
  tryTake(now: number = this.clock.now()): number {
    const wait = this.waitMs(now);
    if (wait === 0) this.held -= 1;
    return wait;
  }

  /** Like `tryTake` without taking: 0 when a token is available now, else the ms until one is. */
  waitMs(now: number = this.clock.now()): number {
    if (now < this.pausedUntil) return Math.ceil(this.pausedUntil - now);
    this.refill(now);
    if (this.held >= 1 - EPSILON) return 0;
    // Rounded up, so a caller that waits exactly this long finds a token; the same tolerance as above
    // keeps 0.999 tokens at 1/s from coming out as ceil(1.0000000000000009) = 2 ms.
    return Math.ceil(((1 - EPSILON - this.held) * 1000) / this.perSecond);
  }

  /**
   * Gives no token before `untilMs` (the service answered 429 / Retry-After). The bucket resumes with
   * one token at `untilMs`, not a burst: the service has just said it is overloaded. A pause never
   * shortens one already in force; an `untilMs` already past changes nothing.
   */
  slowDown(untilMs: number): void {
    if (untilMs <= this.pausedUntil || untilMs <= this.clock.now()) return;
    this.pausedUntil = untilMs;
    this.held = 1;
    this.refilledAtMs = untilMs;
  }

  /** Tokens available now (fractional; 0 while paused), for status displays. */
  get tokens(): number {
    const now = this.clock.now();
    if (now < this.pausedUntil) return 0;
    this.refill(now);
    return Math.max(0, this.held);
  }

  /** The end of the pause in force, or undefined. */
  get pausedUntilMs(): number | undefined {
    return this.pausedUntil > this.clock.now() ? this.pausedUntil : undefined;
  }

  /** Whether the bucket is full and not paused: dropping it and creating a new one later changes nothing. */
  isIdle(now: number = this.clock.now()): boolean {
    if (now < this.pausedUntil) return false;
    this.refill(now);
    return this.held >= this.burst - EPSILON;
  }

  private refill(now: number): void {
    // A clock that steps back (Date.now is not monotonic) or a pause's future start adds nothing.
    if (now <= this.refilledAtMs) return;
    // tokens = ms × perSecond / 1000, in that order: exact for whole ms and integer rates (5 ms × 200 / 1000 = 1).
    this.held = Math.min(this.burst, this.held + ((now - this.refilledAtMs) * this.perSecond) / 1000);
    this.refilledAtMs = now;
  }
}
