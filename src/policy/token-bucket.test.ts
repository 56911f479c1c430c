import { describe, it, expect } from 'vitest';
import { ManualClock } from '../clock.js';
import { configError } from '../../test/helpers/errors.js';
import { TokenBucket, defaultBurst, resolveRateLimit } from './token-bucket.js';

/** Takes tokens as fast as the bucket allows for `durationMs`, advancing the clock by each wait. */
async function drain(bucket: TokenBucket, clock: ManualClock, durationMs: number): Promise<number> {
  const end = clock.now() + durationMs;
  let taken = 0;
  for (;;) {
    const wait = bucket.tryTake();
    if (wait === 0) {
      taken++;
      continue;
    }
    if (clock.now() + wait > end) return taken;
    await clock.advance(wait);
  }
}

describe('resolveRateLimit', () => {
  it('defaults burst to 100 ms worth of tokens, at least 1, frozen', () => {
    expect(resolveRateLimit({ perSecond: 200 })).toEqual({ perSecond: 200, burst: 20 });
    expect(resolveRateLimit({ perSecond: 0.5 })).toEqual({ perSecond: 0.5, burst: 1 });
    expect(resolveRateLimit({ perSecond: 15, burst: 3 })).toEqual({ perSecond: 15, burst: 3 });
    expect(defaultBurst(5)).toBe(1);
    expect(Object.isFrozen(resolveRateLimit({ perSecond: 1 }))).toBe(true);
  });

  it.each<[unknown, string, string]>([
    [
      { perSecond: 0 },
      'rateLimit.perSecond',
      'rateLimit.perSecond must be a finite number > 0 (calls per second; 0.5 is one call every 2 s); got 0',
    ],
    [
      { perSecond: Infinity },
      'rateLimit.perSecond',
      'rateLimit.perSecond must be a finite number > 0 (calls per second; 0.5 is one call every 2 s); got Infinity',
    ],
    [
      { perSecond: NaN },
      'rateLimit.perSecond',
      'rateLimit.perSecond must be a finite number > 0 (calls per second; 0.5 is one call every 2 s); got NaN',
    ],
    [
      { perSecond: '10' },
      'rateLimit.perSecond',
      'rateLimit.perSecond must be a finite number > 0 (calls per second; 0.5 is one call every 2 s); got "10"',
    ],
    [{}, 'rateLimit.perSecond', 'rateLimit.perSecond is required (calls per second, e.g. 10 or 0.5); got undefined'],
    [{ perSecond: 10, burst: 0 }, 'rateLimit.burst', 'rateLimit.burst must be an integer >= 1 (calls allowed back to back); got 0'],
    [{ perSecond: 10, burst: 2.5 }, 'rateLimit.burst', 'rateLimit.burst must be an integer >= 1 (calls allowed back to back); got 2.5'],
    [
      { perSecond: 10, rps: 3 },
      'rateLimit.rps',
      'rateLimit.rps is not a known option; got 3; use perSecond; known options: perSecond, burst',
    ],
    [10, 'rateLimit', 'rateLimit must be an object such as { perSecond: 10, burst: 5 }; got 10'],
  ])('rejects %j', (input, field, message) => {
    const error = configError(() => resolveRateLimit(input));
    expect(error.field).toBe(field);
    expect(error.message).toBe(message);
  });

  it('names the field it was given, and the constructor validates too', () => {
    expect(configError(() => resolveRateLimit({ perSecond: -1 }, 'perKey')).field).toBe('perKey.perSecond');
    expect(configError(() => new TokenBucket({ perSecond: 0 }, new ManualClock())).field).toBe('rateLimit.perSecond');
  });
});

describe('TokenBucket', () => {
  it('starts full, then refills continuously: 200/s with burst 10 gives exactly 2,010 tokens in 10 s', async () => {
    const clock = new ManualClock(1_000_000);
    const bucket = new TokenBucket({ perSecond: 200, burst: 10 }, clock);
    expect(bucket.tokens).toBe(10);
    expect(await drain(bucket, clock, 10_000)).toBe(2010);
  });

  it('says how long to wait, rounded up to whole ms, and takes nothing while refusing', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ perSecond: 3, burst: 1 }, clock);
    expect(bucket.tryTake()).toBe(0);
    expect(bucket.tryTake()).toBe(334); // 1000/3 = 333.3 ms
    expect(bucket.tryTake()).toBe(334);
    await clock.advance(100);
    expect(bucket.tokens).toBeCloseTo(0.3, 10);
    expect(bucket.tryTake()).toBe(234);
    await clock.advance(234);
    expect(bucket.tryTake()).toBe(0);
  });

  it('keeps fractional rates exact over time (0.5/s: one token every 2 s)', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ perSecond: 0.5 }, clock);
    expect(await drain(bucket, clock, 60_000)).toBe(31);
  });

  it('never holds more than burst, however long it idles', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ perSecond: 100, burst: 5 }, clock);
    for (let i = 0; i < 5; i++) expect(bucket.tryTake()).toBe(0);
    expect(bucket.isIdle()).toBe(false);
    await clock.advance(3_600_000);
    expect(bucket.tokens).toBe(5);
    expect(bucket.isIdle()).toBe(true);
    let taken = 0;
    while (bucket.tryTake() === 0) taken++;
    expect(taken).toBe(5);
  });

  it('accepts an explicit now, and a clock stepping back adds no tokens', () => {
    const clock = new ManualClock(10_000);
    const bucket = new TokenBucket({ perSecond: 1, burst: 1 }, clock);
    expect(bucket.tryTake(10_000)).toBe(0);
    expect(bucket.tryTake(9_000)).toBe(1000);
    expect(bucket.tryTake(10_999)).toBe(1);
    expect(bucket.tryTake(11_000)).toBe(0);
  });

  it('slowDown gives no token before untilMs, then resumes with one token, not a burst', async () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket({ perSecond: 10, burst: 10 }, clock);
    bucket.slowDown(5_000);
    expect(bucket.pausedUntilMs).toBe(5_000);
    expect(bucket.tokens).toBe(0);
    expect(bucket.tryTake()).toBe(5_000);
    await clock.advance(4_999);
    expect(bucket.tryTake()).toBe(1);
    expect(bucket.isIdle()).toBe(false);
    await clock.advance(1);
    expect(bucket.pausedUntilMs).toBeUndefined();
    expect(bucket.tryTake()).toBe(0);
    expect(bucket.tryTake()).toBe(100);
  });

  it('slowDown never shortens a pause, and a past untilMs changes nothing', async () => {
    const clock = new ManualClock(1000);
    const bucket = new TokenBucket({ perSecond: 10, burst: 3 }, clock);
    bucket.slowDown(500);
    expect(bucket.tokens).toBe(3);
    bucket.slowDown(3000);
    bucket.slowDown(2000);
    expect(bucket.tryTake()).toBe(2000);
  });
});
