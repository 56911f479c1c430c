/**
 * Time is injected everywhere a policy depends on it, so tests are exact and never sleep.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `callback` after `ms`; the returned function cancels it. Cheaper than a sleep with a signal. */
  timer(ms: number, callback: () => void): () => void;
}

/** Why `signal` was aborted: its reason, or an Error when it gave none. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

/** The longest delay `setTimeout` takes: past 2^31-1 ms it fires after 1 ms instead (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `callback` once `ms` have passed on `now` (a monotonic clock), never before. A Node timer
 * counts from the event loop's time in whole milliseconds, so it may fire up to a millisecond
 * early: a retry after `Retry-After: 1` came 999 ms after the 503 (seen in the flaky-upstream e2e
 * test). A timer that fires early is set again for what is left. A wait longer than
 * {@link MAX_TIMER_MS} (a Retry-After of years, with `maxElapsedMs: Infinity`) is set in steps of at
 * most that: given to `setTimeout` whole, it fired every millisecond, each time with a warning on
 * stderr. `schedule` and `now` are for tests.
 */
export function timerNotEarly(
  ms: number,
  callback: () => void,
  now: () => number = monotonicNow,
  schedule?: (fire: () => void, ms: number) => () => void,
): () => void {
  const timer = new NotEarlyTimer(now() + ms, callback, now, schedule);
  timer.set(Math.min(MAX_TIMER_MS, ms));
  return () => timer.cancel();
}

const monotonicNow = (): number => performance.now();

/**
 * The state of one `timerNotEarly`. A class, not closures: every retry wait sets one, and the bundle
 * (then built with esbuild's keepNames) named each named closure with a call to Object.defineProperty,
 * ~10 of the ~37 ms that timerNotEarly took in a `--cpu-prof` of bench/compare's failing handler
 * (100,000 records, 5,000 retries).
 */
class NotEarlyTimer {
  private handle: ReturnType<typeof setTimeout> | undefined;
  private cancelScheduled: (() => void) | undefined;

  constructor(
    private readonly due: number,
    private readonly callback: () => void,
    private readonly now: () => number,
    private readonly schedule: ((fire: () => void, ms: number) => () => void) | undefined,
  ) {}

  set(ms: number): void {
    if (this.schedule) this.cancelScheduled = this.schedule(() => this.fire(), ms);
    else this.handle = setTimeout(fireTimer, ms, this);
  }

  fire(): void {
    const left = this.due - this.now();
    if (left > 0) this.set(Math.min(MAX_TIMER_MS, Math.ceil(left)));
    else this.callback();
  }

  cancel(): void {
    if (this.schedule) this.cancelScheduled?.();
    else clearTimeout(this.handle);
  }
}

function fireTimer(timer: NotEarlyTimer): void {
  timer.fire();
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        cancel();
        reject(abortReason(signal as AbortSignal));
      };
      const cancel = timerNotEarly(ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
  timer(ms, callback) {
    return timerNotEarly(ms, callback);
  },
};

interface Sleeper {
  wakeAt: number;
  resolve: () => void;
}

/**
 * A clock that only moves when told to. `advance(ms)` wakes every sleeper whose time has come, in
 * order, letting promise callbacks run between wake-ups.
 */
export class ManualClock implements Clock {
  private current: number;
  private sleepers: Sleeper[] = [];

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  /** How many sleeps are waiting. */
  get pendingSleeps(): number {
    return this.sleepers.length;
  }

  /** The requested durations of the waiting sleeps, relative to now. */
  sleepingFor(): number[] {
    return this.sleepers.map((s) => s.wakeAt - this.current);
  }

  timer(ms: number, callback: () => void): () => void {
    const sleeper: Sleeper = { wakeAt: this.current + Math.max(0, ms), resolve: callback };
    this.sleepers.push(sleeper);
    return () => {
      this.sleepers = this.sleepers.filter((s) => s !== sleeper);
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = { wakeAt: this.current + Math.max(0, ms), resolve: () => resolve() };
      this.sleepers.push(sleeper);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper);
          reject(abortReason(signal));
        },
        { once: true },
      );
    });
  }

  /** Moves time forward by `ms`, waking sleepers in order of their wake time. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await flushMicrotasks();
      const due = this.sleepers.filter((s) => s.wakeAt <= target).sort((a, b) => a.wakeAt - b.wakeAt)[0];
      if (!due) break;
      this.current = Math.max(this.current, due.wakeAt);
      this.sleepers = this.sleepers.filter((s) => s !== due);
      due.resolve();
    }
    this.current = target;
    await flushMicrotasks();
  }

  /** Advances until no sleeper is left (bounded, to catch endless retry loops in tests). */
  async runAll(maxSteps = 10_000): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      await flushMicrotasks();
      const next = this.sleepers.reduce((min, s) => Math.min(min, s.wakeAt), Infinity);
      if (next === Infinity) return;
      await this.advance(next - this.current);
    }
    throw new Error(`ManualClock.runAll: still sleeping after ${maxSteps} steps`);
  }
}

/** Lets pending promise callbacks run (several turns, since chains of awaits need several). */
export async function flushMicrotasks(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A source of randomness in [0, 1); injected so jitter is testable. */
export type Random = () => number;
