import { describe, expect, it } from 'vitest';
import { flushMicrotasks, ManualClock, MAX_TIMER_MS, systemClock, timerNotEarly } from './clock.js';

describe('ManualClock', () => {
  it('starts at the given time and only moves when advanced', async () => {
    const clock = new ManualClock(1_000);
    expect(clock.now()).toBe(1_000);
    await flushMicrotasks();
    expect(clock.now()).toBe(1_000);
    await clock.advance(250);
    expect(clock.now()).toBe(1_250);
    expect(new ManualClock().now()).toBe(0);
  });

  it('wakes sleeps and timers in order of wake time, each at its exact time', async () => {
    const clock = new ManualClock();
    const woke: [string, number][] = [];
    clock.timer(300, () => woke.push(['timer 300', clock.now()]));
    void clock.sleep(100).then(() => woke.push(['sleep 100', clock.now()]));
    clock.timer(200, () => woke.push(['timer 200', clock.now()]));
    void clock.sleep(250).then(() => woke.push(['sleep 250', clock.now()]));
    expect(clock.pendingSleeps).toBe(4);
    expect(clock.sleepingFor()).toEqual([300, 100, 200, 250]);
    await clock.advance(260);
    expect(woke).toEqual([
      ['sleep 100', 100],
      ['timer 200', 200],
      ['sleep 250', 250],
    ]);
    expect(clock.now()).toBe(260);
    expect(clock.sleepingFor()).toEqual([40]);
    await clock.advance(40);
    expect(woke.at(-1)).toEqual(['timer 300', 300]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('wakes in time order even when scheduled in the reverse order', async () => {
    const clock = new ManualClock();
    const woke: [string, number][] = [];
    clock.timer(300, () => woke.push(['c', clock.now()]));
    clock.timer(200, () => woke.push(['b', clock.now()]));
    void clock.sleep(100).then(() => woke.push(['a', clock.now()]));
    await clock.advance(1000);
    expect(woke).toEqual([
      ['a', 100],
      ['b', 200],
      ['c', 300],
    ]);
  });

  it('wakes sleepers due at the same time in the order they were scheduled', async () => {
    const clock = new ManualClock();
    const woke: string[] = [];
    for (const name of ['a', 'b', 'c']) clock.timer(50, () => woke.push(name));
    void clock.sleep(50).then(() => woke.push('d'));
    await clock.advance(50);
    expect(woke).toEqual(['a', 'b', 'c', 'd']);
  });

  it('wakes, within the same advance, a sleeper scheduled by one that woke', async () => {
    const clock = new ManualClock();
    const woke: number[] = [];
    void clock.sleep(100).then(async () => {
      woke.push(clock.now());
      await clock.sleep(50);
      woke.push(clock.now());
      await clock.sleep(500);
      woke.push(clock.now());
    });
    await clock.advance(300);
    expect(woke).toEqual([100, 150]);
    expect(clock.now()).toBe(300);
    expect(clock.sleepingFor()).toEqual([350]);
  });

  it('fires a zero or negative timer on the next advance, even advance(0)', async () => {
    const clock = new ManualClock(10);
    const woke: number[] = [];
    clock.timer(0, () => woke.push(clock.now()));
    clock.timer(-5, () => woke.push(clock.now()));
    expect(woke).toEqual([]);
    await clock.advance(0);
    expect(woke).toEqual([10, 10]);
  });

  it('cancels a timer: it never fires and no longer counts as pending', async () => {
    const clock = new ManualClock();
    let fired = 0;
    const cancel = clock.timer(100, () => fired++);
    clock.timer(100, () => (fired += 10));
    expect(clock.pendingSleeps).toBe(2);
    cancel();
    expect(clock.pendingSleeps).toBe(1);
    await clock.advance(1_000);
    expect(fired).toBe(10);
    cancel();
    expect(clock.pendingSleeps).toBe(0);
  });

  it('rejects a sleep with the signal reason when aborted, and drops it', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const sleeping = clock.sleep(1_000, controller.signal);
    expect(clock.pendingSleeps).toBe(1);
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    expect(clock.pendingSleeps).toBe(0);
    await clock.advance(2_000);
    expect(clock.now()).toBe(2_000);
  });

  it('rejects at once when the signal is already aborted, without scheduling anything', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    controller.abort('early');
    await expect(clock.sleep(10, controller.signal)).rejects.toBe('early');
    expect(clock.pendingSleeps).toBe(0);
  });

  it('a signal aborted after the sleep ended changes nothing', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(10, controller.signal);
    await clock.advance(10);
    controller.abort(new Error('too late'));
    await expect(sleeping).resolves.toBeUndefined();
  });

  it('runAll drains a finite chain of sleeps', async () => {
    const clock = new ManualClock();
    const woke: number[] = [];
    void (async () => {
      for (let i = 0; i < 5; i++) {
        await clock.sleep(100 * (i + 1));
        woke.push(clock.now());
      }
    })();
    await clock.runAll();
    expect(woke).toEqual([100, 300, 600, 1_000, 1_500]);
    expect(clock.pendingSleeps).toBe(0);
  });

  it('runAll gives up after maxSteps on a timer that reschedules itself forever', async () => {
    const clock = new ManualClock();
    let ticks = 0;
    const again = (): void => {
      ticks++;
      clock.timer(10, again);
    };
    clock.timer(10, again);
    await expect(clock.runAll(5)).rejects.toThrow('ManualClock.runAll: still sleeping after 5 steps');
    expect(ticks).toBe(5);
    expect(clock.now()).toBe(50);
  });

  it('runAll returns at once when nothing sleeps', async () => {
    const clock = new ManualClock(7);
    await clock.runAll(1);
    expect(clock.now()).toBe(7);
  });
});

describe('systemClock', () => {
  it('now() follows Date.now()', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('sleep aborted by a signal rejects with the reason, long before its time', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const started = Date.now();
    const sleeping = systemClock.sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(reason), 5);
    await expect(sleeping).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('sleep rejects at once with an already aborted signal', async () => {
    const controller = new AbortController();
    controller.abort('already');
    await expect(systemClock.sleep(10_000, controller.signal)).rejects.toBe('already');
  });

  it('sleep resolves after a tiny delay, and at once for 0', async () => {
    const started = Date.now();
    await systemClock.sleep(15);
    expect(Date.now() - started).toBeGreaterThanOrEqual(14);
    await expect(systemClock.sleep(0)).resolves.toBeUndefined();
  });

  it('a cancelled timer never fires', async () => {
    let fired = 0;
    const cancel = systemClock.timer(5, () => fired++);
    systemClock.timer(5, () => (fired += 10));
    cancel();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fired).toBe(10);
  });
});

describe('timerNotEarly', () => {
  it('sets the timer again when it fires before its time, and calls back only once the time has passed', () => {
    let now = 1_000.6;
    const scheduled: [() => void, number][] = [];
    let calls = 0;
    timerNotEarly(
      1_000,
      () => calls++,
      () => now,
      (fire, ms) => {
        scheduled.push([fire, ms]);
        return () => {};
      },
    );
    expect(scheduled.map(([, ms]) => ms)).toEqual([1_000]);
    // The loop's whole-millisecond time made it fire 0.4 ms early.
    now = 2_000.2;
    scheduled[0]?.[0]();
    expect(calls).toBe(0);
    expect(scheduled.map(([, ms]) => ms)).toEqual([1_000, 1]);
    now = 2_001.2;
    scheduled[1]?.[0]();
    expect(calls).toBe(1);
  });

  it('sets a wait longer than setTimeout takes in steps of at most 2^31-1 ms, and calls back only at its end', () => {
    const tenYearsMs = 10 * 365 * 86_400_000;
    let now = 0;
    const scheduled: [() => void, number][] = [];
    let calls = 0;
    timerNotEarly(
      tenYearsMs,
      () => calls++,
      () => now,
      (fire, ms) => {
        scheduled.push([fire, ms]);
        return () => {};
      },
    );
    for (let step = 0; calls === 0 && step < 1_000; step++) {
      const [fire, ms] = scheduled.at(-1) as [() => void, number];
      now += ms;
      fire();
    }
    expect(calls).toBe(1);
    expect(now).toBe(tenYearsMs);
    expect(Math.max(...scheduled.map(([, ms]) => ms))).toBe(MAX_TIMER_MS);
    expect(scheduled.length).toBe(Math.ceil(tenYearsMs / MAX_TIMER_MS));
  });

  it('cancels the timer it set last', () => {
    let now = 0;
    const live = new Set<number>();
    const fires: (() => void)[] = [];
    const cancel = timerNotEarly(
      10,
      () => {
        throw new Error('cancelled timer fired');
      },
      () => now,
      (fire) => {
        const id = fires.push(fire);
        live.add(id);
        return () => live.delete(id);
      },
    );
    now = 9.5;
    fires[0]?.();
    expect([...live].sort()).toEqual([1, 2]);
    cancel();
    expect(live.has(2)).toBe(false);
  });

  it('waits at least its time on the real clock', async () => {
    const started = performance.now();
    await new Promise<void>((resolve) => timerNotEarly(20, resolve));
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
  });
});
