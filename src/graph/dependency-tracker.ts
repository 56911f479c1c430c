/**
 * Gating by dependencies: a record runs once every key it depends on has succeeded (in this run or
 * an earlier one); a failure blocks its dependents, transitively; a cycle is refused.
 *
 * Only records that wait are held here; everything already done is looked up in the key index
 * (key → seq) and the status bits (seq → succeeded / blocked), so memory grows with the number of
 * waiting records, not the job. A waiting record is held in one of two ways:
 *
 * - whole (its key, its dependency list and whatever the engine attaches): records of a source
 *   that cannot read a record again (an iterable), and those the engine asks to keep whole;
 * - stored (stored-waiters.ts, waiters-by-key-hash.ts): its position in the source and the count
 *   of dependencies it still waits on, ~50 bytes, no string at all. When one of its dependencies
 *   settles the record is read again (`Recall`), and what it depends on is checked against the
 *   status bits; the hashes of the keys only say whom to wake, never who is ready.
 */
import type { SourcePosition } from '../sources/source.js';
import type { KeyOwner } from '../structures/key-index.js';
import type { StatusBits } from './status-bits.js';
import { StoredWaiters } from './stored-waiters.js';
import { WaitersByKeyHash } from './waiters-by-key-hash.js';

/** How many keys of a blocking chain are kept: the direct dependency … the failed ancestor. */
const MAX_PATH = 10;

/** What happens to a record whose dependency failed. */
export const DependencyFailurePolicy = { skip: 'skip', run: 'run' } as const;
export type DependencyFailurePolicy = (typeof DependencyFailurePolicy)[keyof typeof DependencyFailurePolicy];

export interface Waiter<E> {
  readonly key: string;
  readonly seq: number;
  readonly deps: readonly string[];
  readonly entry: E;
  /** Dependencies not yet settled. */
  remaining: number;
  /** Dependencies that failed (with the `run` policy). */
  failed: string[] | undefined;
  released: boolean;
  /** For a stored record read back: its slot, which the engine closes once the record has its outcome (`close`); -1 for one held whole. */
  readonly slot: number;
}

/** A stored record read again from the source: its key, its dependencies, and the entry the engine made of it. */
export interface Recalled<E> {
  readonly key: string;
  readonly deps: readonly string[];
  readonly entry: E;
}

/** Reads a stored record again at its position. Throws when it cannot (the engine stops the run). */
export type Recall<E> = (position: SourcePosition) => Recalled<E>;

export type Admission =
  | { readonly kind: 'ready'; readonly failedDependencies: readonly string[] }
  | { readonly kind: 'waiting' }
  /** Waiting, stored as its position: the engine may drop the record and its entry. */
  | { readonly kind: 'stored' }
  | { readonly kind: 'blocked'; readonly blockedBy: readonly string[] }
  | { readonly kind: 'cycle'; readonly cycle: readonly string[] };

export type Release<E> =
  | { readonly kind: 'ready'; readonly waiter: Waiter<E>; readonly failedDependencies: readonly string[] }
  | { readonly kind: 'blocked'; readonly waiter: Waiter<E>; readonly blockedBy: readonly string[] };

export class DependencyTracker<E> {
  private readonly waitersByDep = new Map<string, Waiter<E>[]>();
  private readonly waitingByKey = new Map<string, Waiter<E>>();
  /** Records stored as their position, and the keys they wait on (by hash); undefined without a `Recall`. */
  private readonly stored: StoredWaiters | undefined;
  private readonly storedByDep: WaitersByKeyHash | undefined;

  constructor(
    /** Who holds each key read so far (the ledger's record keys). */
    private readonly keys: { find(key: string): KeyOwner | undefined },
    private readonly bits: StatusBits,
    /** Key → its blocking chain, for records skipped so far (loaded from the ledger, grown by the run). */
    private readonly blockedPaths: Map<string, readonly string[]>,
    private readonly policy: DependencyFailurePolicy,
    /**
     * Reads a stored record again; without it every waiting record is held whole. `hash` replaces
     * the keys' hash (tests use a weak one, to make collisions).
     */
    storing?: { readonly recall: Recall<E>; readonly hash?: (key: string) => void },
  ) {
    this.recall = storing?.recall;
    if (storing) {
      this.stored = new StoredWaiters();
      this.storedByDep = new WaitersByKeyHash(storing.hash);
    }
  }

  private readonly recall: Recall<E> | undefined;

  get waiting(): number {
    return this.waitingByKey.size + (this.stored?.waiting ?? 0);
  }

  /** Bytes held by the stored records (their positions and the table of the keys they wait on). */
  get storedBytes(): number {
    return (this.stored?.bytes ?? 0) + (this.storedByDep?.bytes ?? 0);
  }

  /** The position of the oldest stored record without an outcome: the watermark may not pass it. */
  oldestStored(): SourcePosition | undefined {
    return this.stored?.oldest();
  }

  /** A stored record read back has its outcome: its slot is done with. */
  close(slot: number): void {
    this.stored?.close(slot);
  }

  /**
   * Decides what to do with a record just read. A `waiting` record is held whole until `settled`
   * releases it; with `store` (its position can be read again) it is stored instead, as its
   * position alone (`stored`), when the source allows.
   */
  admit(key: string, seq: number, deps: readonly string[], entry: E, store?: SourcePosition): Admission {
    const unique = [...new Set(deps)];
    if (unique.includes(key)) return { kind: 'cycle', cycle: [key, key] };
    const failed: string[] = [];
    const pending: string[] = [];
    for (const dep of unique) {
      const owner = this.keys.find(dep);
      if (owner && this.bits.succeeded(owner.seq)) continue;
      if (owner && this.bits.blocked(owner.seq)) {
        if (this.policy === 'skip') return { kind: 'blocked', blockedBy: this.pathThrough(dep) };
        failed.push(dep);
        continue;
      }
      pending.push(dep);
    }
    if (pending.length === 0) return { kind: 'ready', failedDependencies: failed };
    // Only a record some waiter already waits on can close a cycle; checking the others would walk
    // every waiting ancestor of each record (quadratic in a chain read while its head still runs).
    const awaited = this.waitersByDep.has(key) || this.storedByDep?.has(key) === true;
    const cycle = awaited ? this.findCycle(key, pending) : undefined;
    if (cycle) return { kind: 'cycle', cycle };
    const { stored, storedByDep } = this;
    if (store && stored && storedByDep && stored.accepts(store)) {
      // The failed dependencies (policy `run`) are not kept: they are read from the status bits on release.
      const slot = stored.add(store, pending.length);
      for (const dep of pending) storedByDep.link(dep, slot);
      return { kind: 'stored' };
    }
    const waiter: Waiter<E> = {
      key,
      seq,
      deps: unique,
      entry,
      remaining: pending.length,
      failed: failed.length > 0 ? failed : undefined,
      released: false,
      slot: -1,
    };
    for (const dep of pending) {
      const list = this.waitersByDep.get(dep);
      if (list) list.push(waiter);
      else this.waitersByDep.set(dep, [waiter]);
    }
    this.waitingByKey.set(key, waiter);
    return { kind: 'waiting' };
  }

  /** A record has its outcome: returns the waiters it releases (run them, or skip them). */
  settled(key: string, seq: number, status: 'succeeded' | 'failed' | 'skipped', blockedBy?: readonly string[]): Release<E>[] {
    if (status === 'succeeded') this.bits.setSucceeded(seq);
    else this.bits.setBlocked(seq);
    if (status === 'skipped' && blockedBy) this.blockedPaths.set(key, blockedBy);
    const releases: Release<E>[] = [];
    if (this.storedByDep && this.storedByDep.size > 0) {
      for (const slot of this.storedByDep.take(key)) this.wakeStored(slot, key, status, releases);
    }
    const waiters = this.waitersByDep.get(key);
    if (!waiters) return releases;
    this.waitersByDep.delete(key);
    for (const waiter of waiters) {
      if (waiter.released) continue;
      if (status !== 'succeeded' && this.policy === 'skip') {
        releases.push(this.release(waiter, { kind: 'blocked', waiter, blockedBy: this.pathThrough(key) }));
        continue;
      }
      if (status !== 'succeeded') (waiter.failed ??= []).push(key);
      if (--waiter.remaining === 0) releases.push(this.release(waiter, { kind: 'ready', waiter, failedDependencies: waiter.failed ?? [] }));
    }
    return releases;
  }

  /**
   * A stored record waiting on `key` (or on a key with the same hash), which just settled. Only a
   * record that may be released is read again: one whose last dependency this was, or (policy
   * `skip`) which this failure blocks. What it depends on is then checked, which undoes what a
   * hash collision did: a record woken by another key waits again, for what it still waits on.
   */
  private wakeStored(slot: number, key: string, status: 'succeeded' | 'failed' | 'skipped', releases: Release<E>[]): void {
    const stored = this.stored as StoredWaiters;
    // Released already (a failure blocked it, or it was failed for a missing key): a stale edge.
    if (stored.remaining(slot) <= 0) return;
    if (status !== 'succeeded' && this.policy === 'skip') {
      const recalled = this.recallStored(slot);
      if (!recalled.deps.includes(key)) {
        (this.storedByDep as WaitersByKeyHash).link(key, slot);
        return;
      }
      stored.takeOut(slot);
      releases.push({ kind: 'blocked', waiter: this.storedWaiter(slot, recalled), blockedBy: this.pathThrough(key) });
      return;
    }
    if (stored.decrement(slot) > 0) return;
    const recalled = this.recallStored(slot);
    const unsettled = recalled.deps.filter((dep) => !this.isSettled(dep));
    if (unsettled.length > 0) {
      // Woken early: a key with the same hash as one of its dependencies took that dependency's
      // edge. It waits again, linked anew under each dependency left: an edge twice over only
      // wakes it once more (and it is checked again), a missing edge would leave it waiting forever.
      stored.rewait(slot, unsettled.length);
      for (const dep of unsettled) (this.storedByDep as WaitersByKeyHash).link(dep, slot);
      return;
    }
    stored.takeOut(slot);
    const failed = recalled.deps.filter((dep) => this.isBlocked(dep));
    releases.push({ kind: 'ready', waiter: this.storedWaiter(slot, recalled), failedDependencies: failed });
  }

  private recallStored(slot: number): Recalled<E> {
    return (this.recall as Recall<E>)((this.stored as StoredWaiters).position(slot));
  }

  private storedWaiter(slot: number, recalled: Recalled<E>): Waiter<E> {
    const seq = (this.stored as StoredWaiters).position(slot).seq;
    return { key: recalled.key, seq, deps: recalled.deps, entry: recalled.entry, remaining: 0, failed: undefined, released: true, slot };
  }

  private isSettled(dep: string): boolean {
    const owner = this.keys.find(dep);
    return owner !== undefined && (this.bits.succeeded(owner.seq) || this.bits.blocked(owner.seq));
  }

  private isBlocked(dep: string): boolean {
    const owner = this.keys.find(dep);
    return owner !== undefined && this.bits.blocked(owner.seq);
  }

  /**
   * Once the source is exhausted: the waiters that depend on a key no record has, with that key.
   * (Every other waiter waits, directly or not, on one of these, or on a record still running.)
   * Stored records are read again for it.
   */
  missing(): { waiter: Waiter<E>; missingKey: string }[] {
    const found: { waiter: Waiter<E>; missingKey: string }[] = [];
    for (const waiter of this.waitingByKey.values()) {
      const missingKey = waiter.deps.find((dep) => this.keys.find(dep) === undefined);
      if (missingKey !== undefined) found.push({ waiter, missingKey });
    }
    for (const slot of this.stored?.waitingSlots() ?? []) {
      const recalled = this.recallStored(slot);
      const missingKey = recalled.deps.find((dep) => this.keys.find(dep) === undefined);
      if (missingKey === undefined) continue;
      const waiter = this.storedWaiter(slot, recalled);
      waiter.released = false;
      found.push({ waiter, missingKey });
    }
    return found;
  }

  /** Whether a waiter from `missing()` still waits (a cascade may have released it since). */
  isWaiting(waiter: Waiter<E>): boolean {
    return waiter.slot >= 0 ? (this.stored as StoredWaiters).remaining(waiter.slot) > 0 : !waiter.released;
  }

  /** Takes a waiter out (it is being failed for another reason, e.g. a missing dependency). */
  remove(waiter: Waiter<E>): void {
    waiter.released = true;
    if (waiter.slot >= 0) {
      const stored = this.stored as StoredWaiters;
      if (stored.remaining(waiter.slot) > 0) stored.takeOut(waiter.slot);
      return;
    }
    this.waitingByKey.delete(waiter.key);
  }

  private release(waiter: Waiter<E>, release: Release<E>): Release<E> {
    this.remove(waiter);
    return release;
  }

  /** The chain from `dep` (which failed or was skipped) to the failed ancestor, shortened to MAX_PATH. */
  private pathThrough(dep: string): string[] {
    const rest = this.blockedPaths.get(dep) ?? [];
    const path = [dep, ...rest];
    return path.length <= MAX_PATH ? path : [...path.slice(0, MAX_PATH - 1), path[path.length - 1] as string];
  }

  /** A path of waiting records from one of `pending` back to `key`, if the new record closes a cycle. */
  private findCycle(key: string, pending: readonly string[]): string[] | undefined {
    const parent = new Map<string, string>();
    const stack: [string, readonly string[]][] = [];
    const visit = (dep: string, from: string): void => {
      if (parent.has(dep)) return;
      const deps = this.waitingDeps(dep);
      if (deps === undefined) return;
      parent.set(dep, from);
      stack.push([dep, deps]);
    };
    for (const dep of pending) visit(dep, key);
    while (stack.length > 0) {
      const [current, deps] = stack.pop() as [string, readonly string[]];
      for (const dep of deps) {
        if (dep === key) {
          // key depends on pending[i] … which depends on current, which depends on key.
          const chain: string[] = [];
          for (let at: string | undefined = current; at !== undefined && at !== key; at = parent.get(at)) chain.unshift(at);
          return [key, ...chain, key];
        }
        visit(dep, current);
      }
    }
    return undefined;
  }

  /** The dependencies of the record with `key` when it waits (a stored one is read again); undefined when it does not. */
  private waitingDeps(key: string): readonly string[] | undefined {
    const whole = this.waitingByKey.get(key);
    if (whole) return whole.deps;
    const stored = this.stored;
    if (stored === undefined || stored.waiting === 0) return undefined;
    const owner = this.keys.find(key);
    const slot = owner === undefined ? -1 : stored.slotOf(owner.seq);
    return slot >= 0 && stored.remaining(slot) > 0 ? this.recallStored(slot).deps : undefined;
  }
}
