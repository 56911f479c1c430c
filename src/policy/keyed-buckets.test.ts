import { describe, it, expect } from 'vitest';
import { ManualClock } from '../clock.js';
import { ConfigError } from '../errors.js';
import { KeyedBuckets } from './keyed-buckets.js';

describe('KeyedBuckets', () => {
  it('limits each key on its own, creating buckets lazily', () => {
    const clock = new ManualClock();
    const buckets = new KeyedBuckets({ perKey: { perSecond: 10, burst: 2 } }, clock);
    expect(buckets.size).toBe(0);
    expect(buckets.tryTake('a')).toBe(0);
    expect(buckets.tryTake('a')).toBe(0);
    expect(buckets.tryTake('a')).toBe(100);
    expect(buckets.tryTake('b')).toBe(0);
    expect(buckets.size).toBe(2);
  });

  it('takes from the global and the key bucket atomically: a refused key burns no global token', () => {
    const clock = new ManualClock();
    const buckets = new KeyedBuckets({ perKey: { perSecond: 1, burst: 1 }, global: { perSecond: 1, burst: 2 } }, clock);
    expect(buckets.tryTake('a')).toBe(0);
    // "a" is empty: refused without touching the global bucket's remaining token…
    expect(buckets.tryTake('a')).toBe(1000);
    expect(buckets.tryTake('a')).toBe(1000);
    expect(buckets.snapshot().global).toEqual({ tokens: 1 });
    // …which "b" still gets; then the global bucket is empty for everyone.
    expect(buckets.tryTake('b')).toBe(0);
    expect(buckets.tryTake('c')).toBe(1000);
    expect(buckets.tryTake(undefined)).toBe(1000);
    expect(buckets.size).toBe(3);
  });

  it('returns the longer of the two waits', async () => {
    const clock = new ManualClock();
    const buckets = new KeyedBuckets({ perKey: { perSecond: 1, burst: 1 }, global: { perSecond: 4, burst: 1 } }, clock);
    expect(buckets.tryTake('a')).toBe(0);
    expect(buckets.tryTake('b')).toBe(250); // global
    expect(buckets.tryTake('a')).toBe(1000); // its own bucket
    await clock.advance(250);
    expect(buckets.tryTake('b')).toBe(0);
  });

  it('slowDown pauses one key, or every call when the key is undefined', async () => {
    const clock = new ManualClock();
    const buckets = new KeyedBuckets({ perKey: { perSecond: 100 } }, clock);
    buckets.slowDown('api.example.com', 2000);
    expect(buckets.tryTake('api.example.com')).toBe(2000);
    expect(buckets.tryTake('other.example.com')).toBe(0);
    buckets.slowDown(undefined, 500);
    expect(buckets.tryTake('other.example.com')).toBe(500);
    expect(buckets.tryTake(undefined)).toBe(500);
    await clock.advance(2000);
    expect(buckets.tryTake('api.example.com')).toBe(0);
  });

  it('shows pauses and the global bucket in the snapshot', async () => {
    const clock = new ManualClock();
    const unlimited = new KeyedBuckets({}, clock);
    expect(unlimited.snapshot()).toEqual({ keys: 0, evicted: 0, evictedEarly: 0, waits: 0, waitedMs: 0, topKeys: [] });
    unlimited.slowDown(undefined, 1000);
    unlimited.slowDown('t1', 2000);
    unlimited.tryTake('t1');
    unlimited.tryTake('t2');
    await clock.advance(500);
    expect(unlimited.snapshot()).toEqual({
      keys: 1,
      evicted: 0,
      evictedEarly: 0,
      waits: 2,
      waitedMs: 1000,
      global: { tokens: 0, pausedUntilMs: 1000 },
      topKeys: [
        { key: 't1', waits: 1, waitedMs: 500, pausedUntilMs: 2000 },
        { key: undefined, waits: 1, waitedMs: 500 },
      ],
    });
    const limited = new KeyedBuckets({ perKey: { perSecond: 1 }, global: { perSecond: 10, burst: 3 } }, clock);
    limited.slowDown('a', 5000);
    limited.tryTake('a');
    expect(limited.snapshot()).toMatchObject({ global: { tokens: 3 }, topKeys: [{ key: 'a', tokens: 0, pausedUntilMs: 5000 }] });
  });

  it('pauses a key even without a per-key limit', async () => {
    const clock = new ManualClock();
    const buckets = new KeyedBuckets({}, clock);
    expect(buckets.tryTake('t1')).toBe(0);
    expect(buckets.size).toBe(0); // nothing kept for unlimited keys
    buckets.slowDown('t1', 300);
    expect(buckets.tryTake('t1')).toBe(300);
    expect(buckets.tryTake('t2')).toBe(0);
    await clock.advance(300);
    expect(buckets.tryTake('t1')).toBe(0);
  });

  it('counts waits once per episode and the wall time waited, per key and in total', async () => {
    const clock = new ManualClock();
    const buckets = new KeyedBuckets({ perKey: { perSecond: 1, burst: 1 } }, clock);
    buckets.tryTake('a');
    expect(buckets.tryTake('a')).toBe(1000);
    await clock.advance(400);
    expect(buckets.tryTake('a')).toBe(600); // polling: still the same wait
    expect(buckets.snapshot()).toMatchObject({ waits: 1, waitedMs: 400, topKeys: [{ key: 'a', waits: 1, waitedMs: 400 }] });
    await clock.advance(600);
    expect(buckets.tryTake('a')).toBe(0);
    buckets.tryTake('b');
    buckets.tryTake('b');
    await clock.advance(1000);
    buckets.tryTake('b');
    const snapshot = buckets.snapshot();
    expect(snapshot).toEqual({
      keys: 2,
      evicted: 0,
      evictedEarly: 0,
      waits: 2,
      waitedMs: 2000,
      topKeys: [
        { key: 'a', waits: 1, waitedMs: 1000, tokens: 1 },
        { key: 'b', waits: 1, waitedMs: 1000, tokens: 0 },
      ],
    });
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it('stays within maxKeys by dropping full idle buckets, which changes nothing', async () => {
    const clock = new ManualClock();
    const buckets = new KeyedBuckets({ perKey: { perSecond: 1, burst: 1 }, maxKeys: 1000 }, clock);
    let largest = 0;
    for (let i = 0; i < 20_000; i++) {
      // Every 500 new keys a second passes: the older buckets are full again, so dropping them is free.
      if (i % 500 === 0) await clock.advance(1000);
      buckets.tryTake(`key-${i}`);
      buckets.tryTake('busy'); // waiting most of the time: never idle, never dropped
      largest = Math.max(largest, buckets.size);
    }
    expect(largest).toBe(1000);
    const snapshot = buckets.snapshot(1);
    expect(snapshot).toMatchObject({ evictedEarly: 0, topKeys: [{ key: 'busy', waits: 40 }] });
    expect(snapshot.evicted).toBe(20_001 - snapshot.keys);
  });

  it('when every bucket is busy, drops the least recently used ones and counts them as early', () => {
    const clock = new ManualClock();
    const buckets = new KeyedBuckets({ perKey: { perSecond: 1, burst: 1 }, maxKeys: 100 }, clock);
    // Each key takes its only token: none is idle, so sweeps must drop busy keys.
    for (let i = 0; i <= 100; i++) buckets.tryTake(`key-${i}`);
    // The 101st key swept: all were used since the last sweep (none), so all got their second chance
    // and the oldest 11 went (101 → 90).
    expect(buckets.size).toBe(90);
    expect(buckets.snapshot()).toMatchObject({ evicted: 0, evictedEarly: 11 });
    expect(buckets.tryTake('key-11')).toBe(1000); // the oldest kept; used now
    for (let i = 101; i <= 111; i++) buckets.tryTake(`key-${i}`);
    expect(buckets.size).toBe(90);
    expect(buckets.snapshot()).toMatchObject({ evicted: 0, evictedEarly: 22 });
    expect(buckets.tryTake('key-11')).toBe(1000); // spared: used since the last sweep
    expect(buckets.tryTake('key-99')).toBe(1000); // not reached
    expect(buckets.tryTake('key-12')).toBe(0); // dropped early: a fresh bucket, a token too soon (the documented cost)
  });

  it('keeps a pause over idle keys', async () => {
    const clock = new ManualClock();
    const buckets = new KeyedBuckets({ perKey: { perSecond: 1, burst: 1 }, maxKeys: 100 }, clock);
    buckets.slowDown('paused', 60_000);
    for (let i = 0; i < 1000; i++) buckets.slowDown(`fresh-${i}`, 0); // full and idle: dropped first
    expect(buckets.size).toBeLessThanOrEqual(100);
    expect(buckets.snapshot()).toMatchObject({ evictedEarly: 0 });
    await clock.advance(1000);
    expect(buckets.tryTake('paused')).toBe(59_000);
  });

  it('validates its options with the field names', () => {
    const clock = new ManualClock();
    expect(() => new KeyedBuckets({ perKey: { perSecond: 0 } }, clock)).toThrow(ConfigError);
    expect(() => new KeyedBuckets({ global: { perSecond: 1, burst: 0 } }, clock)).toThrow('global.burst must be an integer >= 1');
    expect(() => new KeyedBuckets({ maxKeys: 0 }, clock)).toThrow('maxKeys must be an integer >= 1 (keys kept in memory); got 0');
  });
});
