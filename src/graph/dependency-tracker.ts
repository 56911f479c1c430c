/**
 * Gating by dependencies: a record runs once every key it depends on has succeeded (in this run or
 * an earlier one); a failure blocks its dependents, transitively; a cycle is refused.
 *
 * Only records that wait are held here (their keys and dependency lists, plus whatever the engine
 * attaches); everything already done is looked up in the key index (key → seq) and the status bits
 * (seq → succeeded / blocked), so memory grows with the number of waiting records, not the job.
 */
import type { KeyOwner } from '../structures/key-index.js';
import type { StatusBits } from './status-bits.js';

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
}

export type Admission =
  | { readonly kind: 'ready'; readonly failedDependencies: readonly string[] }
  | { readonly kind: 'waiting' }
  | { readonly kind: 'blocked'; readonly blockedBy: readonly string[] }
  | { readonly kind: 'cycle'; readonly cycle: readonly string[] };

export type Release<E> =
  | { readonly kind: 'ready'; readonly waiter: Waiter<E>; readonly failedDependencies: readonly string[] }
  | { readonly kind: 'blocked'; readonly waiter: Waiter<E>; readonly blockedBy: readonly string[] };

export class DependencyTracker<E> {
  private readonly waitersByDep = new Map<string, Waiter<E>[]>();
  private readonly waitingByKey = new Map<string, Waiter<E>>();

  constructor(
    /** Who holds each key read so far (the ledger's record keys). */
    private readonly keys: { find(key: string): KeyOwner | undefined },
    private readonly bits: StatusBits,
    /** Key → its blocking chain, for records skipped so far (loaded from the ledger, grown by the run). */
    private readonly blockedPaths: Map<string, readonly string[]>,
    private readonly policy: DependencyFailurePolicy,
  ) {}

  get waiting(): number {
    return this.waitingByKey.size;
  }

  /** Decides what to do with a record just read. A `waiting` record is held until `settled` releases it. */
  admit(key: string, seq: number, deps: readonly string[], entry: E): Admission {
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
    const cycle = this.waitersByDep.has(key) ? this.findCycle(key, pending) : undefined;
    if (cycle) return { kind: 'cycle', cycle };
    const waiter: Waiter<E> = {
      key,
      seq,
      deps: unique,
      entry,
      remaining: pending.length,
      failed: failed.length > 0 ? failed : undefined,
      released: false,
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
    const waiters = this.waitersByDep.get(key);
    if (!waiters) return [];
    this.waitersByDep.delete(key);
    const releases: Release<E>[] = [];
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
   * Once the source is exhausted: the waiters that depend on a key no record has, with that key.
   * (Every other waiter waits, directly or not, on one of these, or on a record still running.)
   */
  missing(): { waiter: Waiter<E>; missingKey: string }[] {
    const found: { waiter: Waiter<E>; missingKey: string }[] = [];
    for (const waiter of this.waitingByKey.values()) {
      const missingKey = waiter.deps.find((dep) => this.keys.find(dep) === undefined);
      if (missingKey !== undefined) found.push({ waiter, missingKey });
    }
    return found;
  }

  /** Takes a waiter out (it is being failed for another reason, e.g. a missing dependency). */
  remove(waiter: Waiter<E>): void {
    waiter.released = true;
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
    const stack: string[] = [];
    for (const dep of pending) {
      if (this.waitingByKey.has(dep) && !parent.has(dep)) {
        parent.set(dep, key);
        stack.push(dep);
      }
    }
    while (stack.length > 0) {
      const current = stack.pop() as string;
      const waiter = this.waitingByKey.get(current) as Waiter<E>;
      for (const dep of waiter.deps) {
        if (dep === key) {
          // key depends on pending[i] … which depends on current, which depends on key.
          const chain: string[] = [];
          for (let at: string | undefined = current; at !== undefined && at !== key; at = parent.get(at)) chain.unshift(at);
          return [key, ...chain, key];
        }
        if (this.waitingByKey.has(dep) && !parent.has(dep)) {
          parent.set(dep, current);
          stack.push(dep);
        }
      }
    }
    return undefined;
  }
}
