import { describe, it, expect } from 'vitest';
import { ConfigError } from '../errors.js';
import { FairScheduler } from './fair-scheduler.js';

interface Item {
  key: string;
  n: number;
}

/**
 * Runs the scheduler the way the engine would: at most `slots` records running overall; each step
 * fills the free slots with `next()`, then finishes the oldest running record. Returns the pick order.
 */
function simulate(scheduler: FairScheduler<Item>, slots: number): Item[] {
  const picks: Item[] = [];
  const running: Item[] = [];
  for (;;) {
    while (running.length < slots) {
      const item = scheduler.next();
      if (item === undefined) break;
      picks.push(item);
      running.push(item);
    }
    const finished = running.shift();
    if (finished === undefined) return picks;
    scheduler.done(finished.key);
  }
}

function offerAll(scheduler: FairScheduler<Item>, key: string, count: number): void {
  for (let n = 0; n < count; n++) expect(scheduler.offer(key, { key, n })).toBe(true);
}

describe('FairScheduler', () => {
  it('does not let a big key starve a small one queued after it', () => {
    const scheduler = new FairScheduler<Item>({ perKeyConcurrency: 2, maxQueued: 20_000 });
    offerAll(scheduler, 'big', 10_000);
    offerAll(scheduler, 'small', 100);
    const picks = simulate(scheduler, 4);
    expect(picks).toHaveLength(10_100);
    const lastSmall = picks.map((p) => p.key).lastIndexOf('small');
    expect(lastSmall).toBeLessThan(2 * 100);
    // Within a key, reading order is kept.
    expect(picks.filter((p) => p.key === 'small').map((p) => p.n)).toEqual([...Array(100).keys()]);
    expect(picks.filter((p) => p.key === 'big').map((p) => p.n)).toEqual([...Array(10_000).keys()]);
    expect(scheduler.queued).toBe(0);
    expect(scheduler.running).toBe(0);
  });

  it('alternates strictly between keys when one record runs at a time', () => {
    const scheduler = new FairScheduler<Item>({ perKeyConcurrency: 2, maxQueued: 1000 });
    offerAll(scheduler, 'big', 500);
    offerAll(scheduler, 'small', 3);
    const keys = simulate(scheduler, 1).map((p) => p.key);
    expect(keys.slice(0, 7)).toEqual(['big', 'small', 'big', 'small', 'big', 'small', 'big']);
  });

  it('never runs more than perKeyConcurrency records of one key', () => {
    const scheduler = new FairScheduler<Item>({ perKeyConcurrency: 2, maxQueued: 100 });
    offerAll(scheduler, 'a', 10);
    offerAll(scheduler, 'b', 1);
    expect(scheduler.next()?.key).toBe('a');
    expect(scheduler.next()?.key).toBe('b');
    expect(scheduler.next()?.key).toBe('a');
    expect(scheduler.next()).toBeUndefined(); // "a" is at its limit, "b" has nothing queued
    expect(scheduler.running).toBe(3);
    expect(scheduler.queued).toBe(8);
    expect(scheduler.saturatedKeys()).toEqual(['a']);
    scheduler.done('b');
    expect(scheduler.next()).toBeUndefined();
    scheduler.done('a');
    expect(scheduler.saturatedKeys()).toEqual([]);
    expect(scheduler.next()).toEqual({ key: 'a', n: 2 });
  });

  it('refuses offers beyond maxQueued (back-pressure) and accepts again once records are handed out', () => {
    const scheduler = new FairScheduler<Item>({ perKeyConcurrency: 1, maxQueued: 5 });
    offerAll(scheduler, 'a', 3);
    offerAll(scheduler, 'b', 2);
    expect(scheduler.offer('c', { key: 'c', n: 0 })).toBe(false);
    expect(scheduler.offer('a', { key: 'a', n: 3 })).toBe(false);
    expect(scheduler.queued).toBe(5);
    expect(scheduler.next()?.key).toBe('a');
    expect(scheduler.queued).toBe(4);
    expect(scheduler.offer('c', { key: 'c', n: 0 })).toBe(true);
    expect(scheduler.offer('c', { key: 'c', n: 1 })).toBe(false);
  });

  it('bounds what is buffered: queued never exceeds maxQueued whatever the input', () => {
    const scheduler = new FairScheduler<Item>({ perKeyConcurrency: 3, maxQueued: 50 });
    const running: Item[] = [];
    let refused = 0;
    let peak = 0;
    let peakRunning = 0;
    for (let n = 0; n < 100_000; n++) {
      const item = { key: n % 7 === 0 ? 'hot' : `k${n % 13}`, n };
      while (!scheduler.offer(item.key, item)) {
        // The engine stops reading, fills its 8 slots, and waits for the oldest record to finish.
        refused++;
        for (
          let next = running.length < 8 ? scheduler.next() : undefined;
          next !== undefined;
          next = running.length < 8 ? scheduler.next() : undefined
        ) {
          running.push(next);
        }
        peakRunning = Math.max(peakRunning, scheduler.running);
        const finished = running.shift();
        if (finished) scheduler.done(finished.key);
      }
      peak = Math.max(peak, scheduler.queued);
    }
    expect(peak).toBe(50);
    expect(peakRunning).toBe(8);
    expect(refused).toBeGreaterThan(10_000);
  });

  it('forgets keys with nothing queued or running, and throws on a done() it did not hand out', () => {
    const scheduler = new FairScheduler<Item>();
    expect(scheduler.options).toEqual({ perKeyConcurrency: 1, maxQueued: 10_000 });
    for (let n = 0; n < 5000; n++) {
      scheduler.offer(`k${n}`, { key: `k${n}`, n });
      const item = scheduler.next();
      scheduler.done((item as Item).key);
    }
    expect(scheduler.saturatedKeys()).toEqual([]);
    expect(() => scheduler.done('k1')).toThrow('FairScheduler.done: no record of key "k1" is running');
  });

  it('compacts long per-key queues and the ring without losing order', () => {
    const scheduler = new FairScheduler<Item>({ perKeyConcurrency: 1, maxQueued: 100_000 });
    offerAll(scheduler, 'a', 5000);
    const picks: Item[] = [];
    for (let i = 0; i < 10_000; i++) {
      // Keys come and go through the ring while "a" drains, so both compactions happen.
      if (i % 3 === 0) offerAll(scheduler, `x${i}`, 1);
      const item = scheduler.next();
      if (item === undefined) break;
      picks.push(item);
      scheduler.done(item.key);
    }
    expect(picks.filter((p) => p.key === 'a').map((p) => p.n)).toEqual([...Array(5000).keys()]);
    expect(picks).toHaveLength(5000 + Math.ceil(picks.length / 3));
    expect(scheduler.queued).toBe(0);
    expect(scheduler.running).toBe(0);
  });

  it('acquire() counts a record that was not handed out: the key has no room until done()', () => {
    const scheduler = new FairScheduler<Item>({ perKeyConcurrency: 1 });
    offerAll(scheduler, 'a', 1);
    offerAll(scheduler, 'b', 1);
    expect(scheduler.hasRoom('a')).toBe(true);
    expect(scheduler.acquire('a')).toBe(true);
    expect(scheduler.hasRoom('a')).toBe(false);
    expect(scheduler.acquire('a')).toBe(false);
    // Key a is still in the ring: next() passes over it.
    expect(scheduler.next()).toEqual({ key: 'b', n: 0 });
    expect(scheduler.next()).toBeUndefined();
    scheduler.done('a');
    expect(scheduler.next()).toEqual({ key: 'a', n: 0 });
    expect(scheduler.running).toBe(2);
    expect(scheduler.acquire('c')).toBe(true);
    scheduler.done('c');
    scheduler.done('a');
    scheduler.done('b');
    expect(scheduler.running).toBe(0);
    expect(scheduler.saturatedKeys()).toEqual([]);
  });

  it('validates its options', () => {
    expect(() => new FairScheduler({ perKeyConcurrency: 0 })).toThrow(ConfigError);
    expect(() => new FairScheduler({ maxQueued: 1.5 })).toThrow(
      'fairness.maxQueued must be an integer >= 1 (records buffered ahead of the running ones); got 1.5',
    );
  });
});
