/**
 * Per-key concurrency and fairness between keys (tenants, hosts). The engine reads records in order;
 * without this, a tenant with a million records at the head of the input would hold every slot while
 * the others wait for all of them. Records are queued per key and handed out round-robin across the
 * keys that may run one more; within a key they keep their reading order.
 */
import { checkNumber } from '../validation/check.js';

/** Options of `FairScheduler`. */
export interface FairSchedulerOptions {
  /** Records of one key running at once. @default 1 */
  perKeyConcurrency?: number;
  /**
   * Records buffered (accepted by `offer`, not yet handed out by `next`), all keys together. When it
   * is reached `offer` refuses and the engine stops reading: at most `maxQueued` records are held
   * beyond the running ones. Fairness only reaches as far ahead in the input as this buffer.
   * @default 10_000
   */
  maxQueued?: number;
}

/** Options with defaults applied, validated and frozen. */
export interface ResolvedFairSchedulerOptions {
  readonly perKeyConcurrency: number;
  readonly maxQueued: number;
}

/** Applies defaults and validates; a `ConfigError` names `field`, the bad value and what is accepted. */
export function resolveFairSchedulerOptions(input: FairSchedulerOptions = {}, field = 'fairness'): ResolvedFairSchedulerOptions {
  return Object.freeze({
    perKeyConcurrency: checkNumber(input.perKeyConcurrency, 1, `${field}.perKeyConcurrency`, {
      min: 1,
      integer: true,
      hint: 'records of one key running at once',
    }),
    maxQueued: checkNumber(input.maxQueued, 10_000, `${field}.maxQueued`, {
      min: 1,
      integer: true,
      hint: 'records buffered ahead of the running ones',
    }),
  });
}

interface KeyQueue<T> {
  key: string;
  // A queue with a moving head: shift() is O(n) on large arrays.
  items: (T | undefined)[];
  head: number;
  running: number;
  // Whether the key is in the ring; each key is in it at most once.
  inRing: boolean;
}

/**
 * Invariant: a key is in the ring when it has queued records and fewer than `perKeyConcurrency`
 * running, so `next()` pops the ring's head without scanning (O(1) amortised); a key that `acquire`
 * filled may still be in it, and `next()` drops it from the ring when it comes up. A key is
 * forgotten once it has nothing queued or running (memory ≤ queued + running keys).
 * `T` should carry its key: `done(key)` needs it when the record finishes. `T` must not be `undefined`.
 */
export class FairScheduler<T> {
  readonly options: ResolvedFairSchedulerOptions;
  private readonly keys = new Map<string, KeyQueue<T>>();
  private ring: (KeyQueue<T> | undefined)[] = [];
  private ringHead = 0;
  private queuedCount = 0;
  private runningCount = 0;

  constructor(options: FairSchedulerOptions = {}) {
    this.options = resolveFairSchedulerOptions(options);
  }

  /**
   * Queues `item` under `key`. Returns false, queueing nothing, when `maxQueued` records are already
   * queued: the engine keeps the item, stops reading, and offers it again after the next `next()`.
   */
  offer(key: string, item: T): boolean {
    if (this.queuedCount >= this.options.maxQueued) return false;
    let queue = this.keys.get(key);
    if (queue === undefined) {
      queue = { key, items: [], head: 0, running: 0, inRing: false };
      this.keys.set(key, queue);
    }
    queue.items.push(item);
    this.queuedCount++;
    if (!queue.inRing && queue.running < this.options.perKeyConcurrency) this.enterRing(queue);
    return true;
  }

  /** The next record to run, round-robin across runnable keys, now counted as running; undefined when none may run. */
  next(): T | undefined {
    let queue: KeyQueue<T> | undefined;
    do {
      queue = this.ring[this.ringHead];
      if (queue === undefined) return undefined;
      this.ring[this.ringHead++] = undefined;
      if (this.ringHead > 1024 && this.ringHead * 2 > this.ring.length) {
        this.ring = this.ring.slice(this.ringHead);
        this.ringHead = 0;
      }
      queue.inRing = false;
      // Filled by acquire() while it waited in the ring: done() puts it back when a record ends.
    } while (queue.running >= this.options.perKeyConcurrency);
    const item = queue.items[queue.head] as T;
    queue.items[queue.head++] = undefined;
    if (queue.head === queue.items.length) {
      queue.items = [];
      queue.head = 0;
    } else if (queue.head > 1024 && queue.head * 2 > queue.items.length) {
      queue.items = queue.items.slice(queue.head);
      queue.head = 0;
    }
    this.queuedCount--;
    queue.running++;
    this.runningCount++;
    // To the back of the ring: the other keys get their turn first.
    if (queue.head < queue.items.length && queue.running < this.options.perKeyConcurrency) this.enterRing(queue);
    return item;
  }

  /** Whether a record of `key` may start now: fewer than `perKeyConcurrency` of the key are running. */
  hasRoom(key: string): boolean {
    return (this.keys.get(key)?.running ?? 0) < this.options.perKeyConcurrency;
  }

  /**
   * Counts a record of `key` as running that was not handed out by `next()` (a breaker probe taken
   * from the records it parked), if the key has room; false when it has none. `done(key)` ends it.
   */
  acquire(key: string): boolean {
    let queue = this.keys.get(key);
    if (queue !== undefined && queue.running >= this.options.perKeyConcurrency) return false;
    if (queue === undefined) {
      queue = { key, items: [], head: 0, running: 0, inRing: false };
      this.keys.set(key, queue);
    }
    queue.running++;
    this.runningCount++;
    return true;
  }

  /** A record of `key` handed out by `next()` (or counted by `acquire`) has finished. Throws if none of that key is running (an engine bug). */
  done(key: string): void {
    const queue = this.keys.get(key);
    if (queue === undefined || queue.running === 0)
      throw new Error(`FairScheduler.done: no record of key ${JSON.stringify(key)} is running`);
    queue.running--;
    this.runningCount--;
    if (queue.head < queue.items.length) {
      if (!queue.inRing) this.enterRing(queue);
    } else if (queue.running === 0) {
      this.keys.delete(key);
    }
  }

  /** Records queued, not yet handed out. */
  get queued(): number {
    return this.queuedCount;
  }

  /** Records handed out by `next()` and not yet `done`. */
  get running(): number {
    return this.runningCount;
  }

  /** Keys held back by `perKeyConcurrency` while they have records queued (for status; a pass over the keys). */
  saturatedKeys(): string[] {
    const saturated: string[] = [];
    for (const queue of this.keys.values()) {
      if (queue.running >= this.options.perKeyConcurrency && queue.head < queue.items.length) saturated.push(queue.key);
    }
    return saturated;
  }

  private enterRing(queue: KeyQueue<T>): void {
    queue.inRing = true;
    this.ring.push(queue);
  }
}
