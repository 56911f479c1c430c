import { describe, expect, it } from 'vitest';
import { configError } from '../../test/helpers/errors.js';
import { ConcurrencyLimit, resolveConcurrencyRange, SampleKind, type Sample } from './concurrency-limit.js';

const ok = (startedAtMs: number, inFlight: number, latencyMs = 10): Sample => ({ kind: SampleKind.ok, startedAtMs, latencyMs, inFlight });
const overload = (startedAtMs: number, inFlight: number, latencyMs = 10): Sample => ({
  kind: SampleKind.overload,
  startedAtMs,
  latencyMs,
  inFlight,
});

describe('resolveConcurrencyRange', () => {
  it('accepts { min, max }, frozen', () => {
    const range = resolveConcurrencyRange({ min: 1, max: 64 });
    expect(range).toEqual({ min: 1, max: 64 });
    expect(Object.isFrozen(range)).toBe(true);
    expect(resolveConcurrencyRange({ min: 8, max: 8 })).toEqual({ min: 8, max: 8 });
  });

  it.each<[unknown, string, string]>([
    ['8', 'concurrency must be an integer or a range { min, max }; got "8"', 'concurrency'],
    [{ min: 1 }, 'concurrency.max must be an integer from 1 to 10000; got undefined', 'concurrency.max'],
    [{ min: 0, max: 4 }, 'concurrency.min must be an integer from 1 to 10000; got 0', 'concurrency.min'],
    [{ min: 1, max: 2.5 }, 'concurrency.max must be an integer from 1 to 10000; got 2.5', 'concurrency.max'],
    [{ min: 9, max: 4 }, 'concurrency.min (9) cannot exceed concurrency.max (4)', 'concurrency.min'],
    [{ min: 1, max: 4, initial: 2 }, 'concurrency.initial is not a known option', 'concurrency.initial'],
  ])('rejects %j naming the field', (input, message, field) => {
    const error = configError(() => resolveConcurrencyRange(input));
    expect(error.message).toContain(message);
    expect(error.field).toBe(field);
  });
});

describe('ConcurrencyLimit', () => {
  it('starts at min and grows by one per success while the slots are used, up to max', () => {
    const limit = new ConcurrencyLimit({ min: 2, max: 5 });
    expect(limit.limit()).toBe(2);
    expect(limit.onSample(ok(0, 2))).toEqual({ limit: 3, reason: 'healthy' });
    expect(limit.onSample(ok(0, 3))).toEqual({ limit: 4, reason: 'healthy' });
    limit.onSample(ok(0, 4));
    expect(limit.onSample(ok(0, 5))).toBeUndefined();
    expect(limit.limit()).toBe(5);
  });

  it('does not grow while fewer than half the slots are busy (a slow source proves nothing)', () => {
    const limit = new ConcurrencyLimit({ min: 8, max: 64 });
    for (let i = 0; i < 100; i++) expect(limit.onSample(ok(i, 3))).toBeUndefined();
    expect(limit.limit()).toBe(8);
    expect(limit.onSample(ok(100, 4))).toEqual({ limit: 9, reason: 'healthy' });
  });

  it('an overload halves the limit the first time (the end of the quick start), then multiplies it by 0.9, once per event', () => {
    const limit = new ConcurrencyLimit({ min: 1, max: 64 });
    for (let i = 0; i < 19; i++) limit.onSample(ok(0, 64));
    expect(limit.limit()).toBe(20);
    // The attempt started at 100 and took 10 ms: the decrease is at 110.
    expect(limit.onSample(overload(100, 20))).toEqual({ limit: 10, reason: 'overload' });
    // Two more 503s from attempts that started before 110: the same congestion, no new decrease.
    expect(limit.onSample(overload(105, 20))).toBeUndefined();
    expect(limit.onSample(overload(109, 20))).toBeUndefined();
    expect(limit.limit()).toBe(10);
    // One started after it: a new event.
    expect(limit.onSample(overload(110, 10))).toEqual({ limit: 9, reason: 'overload' });
    expect(limit.decreases).toBe(2);
    expect(limit.lowest).toBe(9);
  });

  it('after the first overload it grows by about one per limit successes', () => {
    const limit = new ConcurrencyLimit({ min: 1, max: 64 });
    for (let i = 0; i < 17; i++) limit.onSample(ok(0, 64));
    limit.onSample(overload(0, 18));
    expect(limit.limit()).toBe(9);
    let successes = 0;
    while (limit.limit() === 9) {
      limit.onSample(ok(1000, 9));
      successes++;
    }
    // +1/limit per success: about 9 successes from 9.0 to 10, then about 10 more to 11.
    expect(successes).toBeGreaterThanOrEqual(9);
    expect(successes).toBeLessThanOrEqual(10);
    successes = 0;
    while (limit.limit() === 10) {
      limit.onSample(ok(1000, 10));
      successes++;
    }
    expect(successes).toBeGreaterThanOrEqual(10);
    expect(successes).toBeLessThanOrEqual(11);
  });

  it('never goes below min', () => {
    const limit = new ConcurrencyLimit({ min: 3, max: 10 });
    for (let t = 0; t < 100; t += 20) limit.onSample(overload(t, 3));
    expect(limit.limit()).toBe(3);
    expect(limit.lowest).toBe(3);
    expect(new ConcurrencyLimit({ min: 3, max: 10 }).lowest).toBeUndefined();
  });

  it('decreases when latency rises well above its long-run level, not on steady latency', () => {
    const limit = new ConcurrencyLimit({ min: 1, max: 64 });
    let t = 0;
    for (let i = 0; i < 200; i++, t += 10) limit.onSample(ok(t, 64, 20));
    expect(limit.limit()).toBe(64);
    expect(limit.decreases).toBe(0);
    // The upstream queues: latency goes from 20 to 100 ms.
    const changes = [];
    for (let i = 0; i < 20; i++, t += 10) {
      const change = limit.onSample(ok(t, 64, 100));
      if (change) changes.push(change);
    }
    expect(changes[0]).toEqual({ limit: 32, reason: 'latency' });
    expect(limit.decreases).toBeGreaterThan(0);
  });

  it('ignored samples change nothing', () => {
    const limit = new ConcurrencyLimit({ min: 4, max: 8 });
    for (let i = 0; i < 50; i++)
      expect(limit.onSample({ kind: SampleKind.ignore, startedAtMs: i, latencyMs: 1, inFlight: 8 })).toBeUndefined();
    expect(limit.limit()).toBe(4);
  });

  it('finds a capacity of 8 from a range of 1 to 64, with few overloads', () => {
    // Rounds of 10 ms: the limit's worth of attempts start together; the first 8 are served, the rest get 503.
    const limit = new ConcurrencyLimit({ min: 1, max: 64 });
    let attempts = 0;
    let rejected = 0;
    const limits: number[] = [];
    for (let round = 0; round < 500; round++) {
      const startedAtMs = round * 10;
      const n = limit.limit();
      for (let i = 0; i < n; i++) {
        attempts++;
        if (i >= 8) rejected++;
        limit.onSample(i < 8 ? ok(startedAtMs, n) : overload(startedAtMs, n));
      }
      if (round >= 100) limits.push(n);
    }
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(6);
    expect(Math.max(...limits)).toBeLessThanOrEqual(10);
    // AIMD probes one slot past the capacity about every other round trip: about 1 attempt in 10
    // is rejected; a fixed 64 would have 56 of every 64 rejected (87%).
    expect(rejected / attempts).toBeLessThan(0.15);
  });
});
