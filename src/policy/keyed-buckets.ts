/**
 * One token bucket per key (API host, tenant…), created on first use, plus an optional global bucket
 * that every call also takes from. Memory is bounded: beyond `maxKeys` buckets, idle ones are dropped.
 */
import type { Clock } from '../clock.js';
import { checkNumber } from '../validation/check.js';
import { TokenBucket, resolveRateLimit, type RateLimitOptions } from './token-bucket.js';

/** Options of `KeyedBuckets`. */
export interface KeyedBucketsOptions {
  /** The limit of each key's own bucket. Without it keys are not limited one by one, but `slowDown(key)` still pauses a key. @default undefined */
  perKey?: RateLimitOptions;
  /** One bucket shared by all calls, keyed or not. @default undefined (no global limit) */
  global?: RateLimitOptions;
  /** Keys kept before idle ones are dropped (see `KeyedBuckets`). @default 10_000 */
  maxKeys?: number;
}

/** Wait statistics of one key, for the summary. */
export interface KeyWaitStats {
  /** Undefined for the calls that have no key entry (no key, or no per-key limit). */
  key: string | undefined;
  /** Times the key started waiting: refusals while it was not already waiting (polling does not inflate it). */
  waits: number;
  /** Wall time from each first refusal to the next successful take, summed (an ongoing wait counts up to now). */
  waitedMs: number;
  /** Tokens available now, when the key has a bucket. */
  tokens?: number;
  /** End of the pause in force (`slowDown`), if any. */
  pausedUntilMs?: number;
}

/** Plain data for the summary and `status`. */
export interface KeyedBucketsSnapshot {
  /** Keys held now. */
  keys: number;
  /** Keys dropped while full and idle: invisible, a new bucket starts full anyway. */
  evicted: number;
  /** Keys dropped while still refilling because every kept key was busy: these may get a fresh burst early. */
  evictedEarly: number;
  /** Totals over every key, dropped ones included. */
  waits: number;
  waitedMs: number;
  global?: { tokens: number; pausedUntilMs?: number };
  /** The keys that waited longest, most first. */
  topKeys: KeyWaitStats[];
}

interface Entry {
  key: string | undefined;
  bucket: TokenBucket | undefined;
  // Only used when there is no bucket (a pause on a key without a per-key limit, or no global limit).
  pausedUntilMs: number;
  // Set on each use, cleared by the eviction sweep: "used since the last sweep" (second-chance LRU).
  recent: boolean;
  waits: number;
  waitedMs: number;
  waitingSinceMs: number | undefined;
}

function newEntry(key: string | undefined, bucket: TokenBucket | undefined): Entry {
  return { key, bucket, pausedUntilMs: -Infinity, recent: true, waits: 0, waitedMs: 0, waitingSinceMs: undefined };
}

function waitOf(entry: Entry, now: number): number {
  if (entry.bucket) return entry.bucket.waitMs(now);
  return entry.pausedUntilMs > now ? Math.ceil(entry.pausedUntilMs - now) : 0;
}

function pausedUntil(entry: Entry, now: number): number | undefined {
  if (entry.bucket) return entry.bucket.pausedUntilMs;
  return entry.pausedUntilMs > now ? entry.pausedUntilMs : undefined;
}

function isIdle(entry: Entry, now: number): boolean {
  if (entry.waitingSinceMs !== undefined) return false;
  return entry.bucket ? entry.bucket.isIdle(now) : entry.pausedUntilMs <= now;
}

/**
 * Per-key buckets with an optional global one. `tryTake` is atomic across the two: a token is taken
 * from both or from neither, so a key that must wait never burns a global token other keys could use.
 *
 * Bound: when more than `maxKeys` keys are held, keys are dropped down to 90% of `maxKeys` (the
 * slack makes the O(n) sweep rare: amortised O(1) per new key). Full, unpaused, non-waiting buckets go
 * first, in insertion order; that is invisible, since a new bucket starts full. Only if that is not
 * enough are the rest dropped, least recently used first (approximately: keys used since the previous
 * sweep are spared once), counted as `evictedEarly`: such a key may get a token or end a pause early.
 * Per-key statistics of a dropped key go with it; the totals keep them.
 */
export class KeyedBuckets {
  private readonly entries = new Map<string, Entry>();
  private readonly perKey: RateLimitOptions | undefined;
  private readonly maxKeys: number;
  private readonly global: Entry;
  // Statistics of calls that have no key entry (no key, or no per-key limit).
  private readonly shared: Entry;
  private evicted = 0;
  private evictedEarly = 0;
  private totalWaits = 0;
  private totalWaitedMs = 0;

  constructor(
    options: KeyedBucketsOptions,
    private readonly clock: Clock,
  ) {
    this.perKey = options.perKey === undefined ? undefined : resolveRateLimit(options.perKey, 'perKey');
    const global = options.global === undefined ? undefined : resolveRateLimit(options.global, 'global');
    this.maxKeys = checkNumber(options.maxKeys, 10_000, 'maxKeys', { min: 1, integer: true, hint: 'keys kept in memory' });
    this.global = newEntry(undefined, global && new TokenBucket(global, clock));
    this.shared = newEntry(undefined, undefined);
  }

  /** Takes a token for `key` (and from the global bucket): 0 when taken, else the ms to wait (nothing taken). */
  tryTake(key: string | undefined, now: number = this.clock.now()): number {
    // Without a per-key limit only keys paused by slowDown have an entry: a lookup, nothing created.
    const entry = key === undefined ? undefined : this.perKey ? this.entryFor(key, now) : this.entries.get(key);
    const wait = Math.max(waitOf(this.global, now), entry ? waitOf(entry, now) : 0);
    const stats = entry ?? this.shared;
    stats.recent = true;
    if (wait > 0) {
      if (stats.waitingSinceMs === undefined) {
        stats.waitingSinceMs = now;
        stats.waits++;
        this.totalWaits++;
      }
      return wait;
    }
    this.global.bucket?.tryTake(now);
    entry?.bucket?.tryTake(now);
    this.endWait(stats, now);
    return 0;
  }

  /** No token for `key` before `untilMs` (a 429 / Retry-After); `undefined` pauses every call (the global bucket). */
  slowDown(key: string | undefined, untilMs: number): void {
    const now = this.clock.now();
    const entry = key === undefined ? this.global : this.entryFor(key, now);
    entry.recent = true;
    if (entry.bucket) entry.bucket.slowDown(untilMs);
    else entry.pausedUntilMs = Math.max(entry.pausedUntilMs, untilMs);
  }

  /** Keys held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Plain data for the summary: totals, the global bucket, and the `top` keys that waited longest. */
  snapshot(top = 10): KeyedBucketsSnapshot {
    const now = this.clock.now();
    const waited = (e: Entry): number => e.waitedMs + (e.waitingSinceMs === undefined ? 0 : now - e.waitingSinceMs);
    const all = [...this.entries.values(), this.shared].filter((e) => e.waits > 0);
    const ongoing = all.reduce((sum, e) => sum + waited(e) - e.waitedMs, 0);
    const topKeys = all
      .sort((a, b) => waited(b) - waited(a))
      .slice(0, top)
      .map((e): KeyWaitStats => {
        const stats: KeyWaitStats = { key: e.key, waits: e.waits, waitedMs: waited(e) };
        if (e.bucket) stats.tokens = e.bucket.tokens;
        const paused = pausedUntil(e, now);
        if (paused !== undefined) stats.pausedUntilMs = paused;
        return stats;
      });
    const snapshot: KeyedBucketsSnapshot = {
      keys: this.entries.size,
      evicted: this.evicted,
      evictedEarly: this.evictedEarly,
      waits: this.totalWaits,
      waitedMs: this.totalWaitedMs + ongoing,
      topKeys,
    };
    const globalPause = pausedUntil(this.global, now);
    if (this.global.bucket || globalPause !== undefined) {
      snapshot.global = { tokens: this.global.bucket?.tokens ?? 0 };
      if (globalPause !== undefined) snapshot.global.pausedUntilMs = globalPause;
    }
    return snapshot;
  }

  // A Map get is the whole cost for a key seen before: no LRU reordering per take.
  private entryFor(key: string, now: number): Entry {
    const found = this.entries.get(key);
    if (found) return found;
    const entry = newEntry(key, this.perKey && new TokenBucket(this.perKey, this.clock));
    this.entries.set(key, entry);
    if (this.entries.size > this.maxKeys) this.evict(now, entry);
    return entry;
  }

  private endWait(stats: Entry, now: number): void {
    if (stats.waitingSinceMs === undefined) return;
    stats.waitedMs += now - stats.waitingSinceMs;
    this.totalWaitedMs += now - stats.waitingSinceMs;
    stats.waitingSinceMs = undefined;
  }

  private evict(now: number, keep: Entry): void {
    const target = Math.floor(this.maxKeys * 0.9);
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= target) return;
      if (entry === keep || !isIdle(entry, now)) continue;
      this.entries.delete(key);
      this.evicted++;
    }
    // Second chance (CLOCK) instead of sorting by last use: a key used since the previous sweep moves
    // to the back once (Map iteration visits it again there); the others go, oldest first. O(n), no copy.
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= target) return;
      if (entry === keep) continue;
      this.entries.delete(key);
      if (entry.recent) {
        entry.recent = false;
        this.entries.set(key, entry);
      } else {
        this.endWait(entry, now);
        this.evictedEarly++;
      }
    }
  }
}
