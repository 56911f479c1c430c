import { beforeAll, describe, expect, it } from 'vitest';
import { KeyIndex } from '../structures/key-index.js';
import { DependencyTracker, type DependencyFailurePolicy, type Release } from './dependency-tracker.js';
import { StatusBits } from './status-bits.js';
import type { SourcePosition } from '../sources/source.js';
import { hashKey, keyHash } from './key-hash.js';

type Status = 'succeeded' | 'failed' | 'skipped';

/**
 * Every test runs three times: with waiting records held whole; stored as their positions (read
 * again through `recall`, from the records the test read); and stored with a hash of the keys that
 * makes them collide in 16 groups (the results must not change: only the number of reads does).
 */
type Mode = 'whole' | 'stored' | 'colliding';
let mode: Mode = 'whole';

/** What admit returns for a record that waits, in the mode under test. */
const waiting = () => ({ kind: mode === 'whole' ? 'waiting' : 'stored' });

/** A hash under which keys fall in 16 groups. */
function collidingHash(key: string): void {
  hashKey(key);
  keyHash[0] = 0;
  keyHash[1] = (keyHash[1] as number) & 15;
}

/** A tracker plus the bookkeeping the engine does around it (keys read in order, one seq each). */
function setup(
  policy: DependencyFailurePolicy = 'skip',
  blockedPaths = new Map<string, readonly string[]>(),
  hash?: (key: string) => void,
) {
  const keys = new KeyIndex();
  const bits = new StatusBits();
  const records = new Map<number, { key: string; deps: readonly string[] }>();
  const recalls: string[] = [];
  const recall = (position: SourcePosition) => {
    const record = records.get(position.seq);
    if (!record) throw new Error(`test bug: nothing was read at ${position.seq}`);
    expect(position).toEqual({ seq: position.seq, line: position.seq + 1, offset: position.seq * 100 });
    recalls.push(record.key);
    return { key: record.key, deps: [...new Set(record.deps)], entry: `entry:${record.key}` };
  };
  const tracker = new DependencyTracker<string>(
    keys,
    bits,
    blockedPaths,
    policy,
    mode === 'whole' ? undefined : { recall, hash: hash ?? (mode === 'colliding' ? collidingHash : undefined) },
  );
  const seqs = new Map<string, number>();
  const seqOf = (key: string): number => {
    const seq = seqs.get(key);
    if (seq === undefined) throw new Error(`test bug: ${key} was never read`);
    return seq;
  };
  /** A record is read: its key is indexed, then (like the engine) it is admitted. */
  const read = (key: string, deps: readonly string[] = []) => {
    const seq = seqs.size;
    seqs.set(key, seq);
    if (keys.add(key, seq, seq + 1) !== undefined) throw new Error(`test bug: ${key} read twice`);
    records.set(seq, { key, deps });
    return tracker.admit(key, seq, deps, `entry:${key}`, { seq, line: seq + 1, offset: seq * 100 });
  };
  const settle = (key: string, status: Status, blockedBy?: readonly string[]): Release<string>[] =>
    tracker.settled(key, seqOf(key), status, blockedBy);
  /** Settles `key` and works through the cascade as the gate does; returns every release, in order. */
  const cascade = (key: string, status: Status): Release<string>[] => {
    const all: Release<string>[] = [];
    const queue = settle(key, status);
    for (let next = queue.shift(); next; next = queue.shift()) {
      all.push(next);
      if (next.kind === 'blocked') queue.push(...tracker.settled(next.waiter.key, next.waiter.seq, 'skipped', next.blockedBy));
    }
    return all;
  };
  const summary = (releases: Release<string>[]) =>
    releases.map((r) => (r.kind === 'ready' ? [r.waiter.key, 'ready', r.failedDependencies] : [r.waiter.key, 'blocked', r.blockedBy]));
  return { tracker, keys, bits, blockedPaths, read, settle, cascade, summary, seqOf, recalls };
}

describe.each(['whole', 'stored', 'colliding'] as const)('waiting records held %s', (held) => {
  beforeAll(() => {
    mode = held;
  });

  describe('DependencyTracker: admit and settled', () => {
    it('runs a record at once when it has no dependency or all of them succeeded', () => {
      const t = setup();
      expect(t.read('a')).toEqual({ kind: 'ready', failedDependencies: [] });
      t.settle('a', 'succeeded');
      expect(t.read('b', ['a'])).toEqual({ kind: 'ready', failedDependencies: [] });
      expect(t.tracker.waiting).toBe(0);
    });

    it('holds a record until every dependency has succeeded, then releases it once', () => {
      const t = setup();
      t.read('a');
      t.read('b');
      expect(t.read('c', ['a', 'b'])).toEqual(waiting());
      expect(t.tracker.waiting).toBe(1);
      expect(t.settle('a', 'succeeded')).toEqual([]);
      expect(t.tracker.waiting).toBe(1);
      const released = t.settle('b', 'succeeded');
      expect(t.summary(released)).toEqual([['c', 'ready', []]]);
      expect(released[0]?.waiter.entry).toBe('entry:c');
      expect(t.tracker.waiting).toBe(0);
      // Settling again releases nothing.
      expect(t.settle('b', 'succeeded')).toEqual([]);
    });

    it('waits on a key not read yet (a dependency after its dependent) and releases on its success', () => {
      const t = setup();
      expect(t.read('child', ['parent'])).toEqual(waiting());
      expect(t.read('parent')).toEqual({ kind: 'ready', failedDependencies: [] });
      expect(t.summary(t.settle('parent', 'succeeded'))).toEqual([['child', 'ready', []]]);
    });

    it('counts a dependency listed twice once', () => {
      const t = setup();
      t.read('a');
      expect(t.read('b', ['a', 'a', 'a'])).toEqual(waiting());
      const released = t.settle('a', 'succeeded');
      expect(t.summary(released)).toEqual([['b', 'ready', []]]);
      expect(released[0]?.waiter.deps).toEqual(['a']);
      expect(released[0]?.waiter.remaining).toBe(0);
    });

    it('mixes dependencies already done and not yet done', () => {
      const t = setup();
      t.read('a');
      t.settle('a', 'succeeded');
      t.read('b');
      expect(t.read('c', ['a', 'b'])).toEqual(waiting());
      expect(t.summary(t.settle('b', 'succeeded'))).toEqual([['c', 'ready', []]]);
    });

    it('releases every waiter of a key, in the order they came', () => {
      const t = setup();
      for (let i = 0; i < 5; i++) t.read(`c${i}`, ['p']);
      t.read('p');
      expect(t.settle('p', 'succeeded').map((r) => r.waiter.key)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    });

    it('sets the status bits of what settles (a re-run may flip a blocked record to succeeded)', () => {
      const t = setup();
      t.read('a');
      t.read('b');
      t.settle('a', 'failed');
      t.settle('b', 'skipped', ['a']);
      expect(t.bits.blocked(t.seqOf('a'))).toBe(true);
      expect(t.bits.blocked(t.seqOf('b'))).toBe(true);
      expect(t.blockedPaths.get('b')).toEqual(['a']);
      t.settle('a', 'succeeded');
      expect([t.bits.succeeded(t.seqOf('a')), t.bits.blocked(t.seqOf('a'))]).toEqual([true, false]);
    });
  });

  describe('DependencyTracker: failures block dependents (skip policy)', () => {
    it('blocks a record whose dependency already failed, with that dependency as the chain', () => {
      const t = setup();
      t.read('a');
      t.settle('a', 'failed');
      expect(t.read('b', ['a'])).toEqual({ kind: 'blocked', blockedBy: ['a'] });
    });

    it('blocks a record whose dependency was skipped, with the whole chain to the failed ancestor', () => {
      const t = setup();
      t.read('a');
      t.settle('a', 'failed');
      t.read('b');
      t.settle('b', 'skipped', ['a']);
      expect(t.read('c', ['b'])).toEqual({ kind: 'blocked', blockedBy: ['b', 'a'] });
    });

    it('uses the chains remembered from earlier runs', () => {
      const t = setup('skip', new Map([['b', ['a']]]));
      t.read('a');
      t.read('b');
      t.bits.setBlocked(t.seqOf('a'));
      t.bits.setBlocked(t.seqOf('b'));
      expect(t.read('c', ['x', 'b'])).toEqual({ kind: 'blocked', blockedBy: ['b', 'a'] });
    });

    it('blocks waiters when their dependency fails, transitively, and only once', () => {
      const t = setup();
      t.read('c', ['b']);
      t.read('d', ['c', 'z']);
      t.read('b', ['a']);
      t.read('a');
      t.read('z');
      expect(t.tracker.waiting).toBe(3);
      expect(t.summary(t.cascade('a', 'failed'))).toEqual([
        ['b', 'blocked', ['a']],
        ['c', 'blocked', ['b', 'a']],
        ['d', 'blocked', ['c', 'b', 'a']],
      ]);
      expect(t.tracker.waiting).toBe(0);
      // d's other dependency ending later changes nothing.
      expect(t.settle('z', 'succeeded')).toEqual([]);
      expect(t.blockedPaths.get('d')).toEqual(['c', 'b', 'a']);
    });

    it('blocks a diamond once, through whichever parent settles first', () => {
      const t = setup();
      t.read('d', ['b', 'c']);
      t.read('b', ['a']);
      t.read('c', ['a']);
      t.read('a');
      const releases = t.summary(t.cascade('a', 'failed'));
      expect(releases).toEqual([
        ['b', 'blocked', ['a']],
        ['c', 'blocked', ['a']],
        ['d', 'blocked', ['b', 'a']],
      ]);
    });

    it('caps a long chain at 10 keys: the first 9 and the failed root', () => {
      const t = setup();
      t.read('k0');
      for (let i = 1; i <= 15; i++) t.read(`k${i}`, [`k${i - 1}`]);
      const releases = t.cascade('k0', 'failed');
      expect(releases).toHaveLength(15);
      const chainOf = (key: string) => {
        const release = releases.find((r) => r.waiter.key === key);
        return release?.kind === 'blocked' ? release.blockedBy : undefined;
      };
      expect(chainOf('k1')).toEqual(['k0']);
      expect(chainOf('k10')).toEqual(['k9', 'k8', 'k7', 'k6', 'k5', 'k4', 'k3', 'k2', 'k1', 'k0']);
      expect(chainOf('k11')).toEqual(['k10', 'k9', 'k8', 'k7', 'k6', 'k5', 'k4', 'k3', 'k2', 'k0']);
      expect(chainOf('k15')).toEqual(['k14', 'k13', 'k12', 'k11', 'k10', 'k9', 'k8', 'k7', 'k6', 'k0']);
      for (const release of releases) if (release.kind === 'blocked') expect(release.blockedBy.length).toBeLessThanOrEqual(10);
      // The same cap when the chain is met on admission.
      expect(t.read('k16', ['k15'])).toEqual({
        kind: 'blocked',
        blockedBy: ['k15', 'k14', 'k13', 'k12', 'k11', 'k10', 'k9', 'k8', 'k7', 'k0'],
      });
    });

    // Forced collisions make each key's list hold a sixteenth of the chain: quadratic, not wrong.
    it.skipIf(held === 'colliding')('works through a 100,000-long cascade without recursion', () => {
      const t = setup();
      const n = 100_000;
      for (let i = n; i >= 1; i--) t.read(`k${i}`, [`k${i - 1}`]);
      t.read('k0');
      const releases = t.cascade('k0', 'failed');
      expect(releases).toHaveLength(n);
      const last = releases[n - 1];
      expect(last?.kind === 'blocked' && last.blockedBy).toEqual([
        'k99999',
        'k99998',
        'k99997',
        'k99996',
        'k99995',
        'k99994',
        'k99993',
        'k99992',
        'k99991',
        'k0',
      ]);
      expect(t.tracker.waiting).toBe(0);
    });
  });

  describe('DependencyTracker: cycles', () => {
    // With hashes made to collide, a key that some record seems to wait on is looked into: slow, not wrong.
    it.skipIf(held === 'colliding')('does not walk the waiting ancestors of every record read (a chain read while its head runs)', () => {
      const t = setup();
      const n = 6000;
      t.read('k0');
      const started = Date.now();
      for (let i = 1; i < n; i++) expect(t.read(`k${i}`, [`k${i - 1}`]).kind).toBe(waiting().kind);
      // Linear: a few ms. Walking each record's waiting ancestors to look for a cycle is quadratic:
      // about 5 s for 6,000 records, minutes for 20,000.
      expect(Date.now() - started).toBeLessThan(1500);
      expect(t.tracker.waiting).toBe(n - 1);
      expect(t.cascade('k0', 'succeeded')).toHaveLength(1);
    });

    it('refuses a record that depends on itself (alone, among others, or twice)', () => {
      const t = setup();
      expect(t.read('a', ['a'])).toEqual({ kind: 'cycle', cycle: ['a', 'a'] });
      t.read('x');
      t.settle('x', 'succeeded');
      expect(t.read('b', ['x', 'b', 'b'])).toEqual({ kind: 'cycle', cycle: ['b', 'b'] });
      expect(t.tracker.waiting).toBe(0);
    });

    it('names a two-record cycle', () => {
      const t = setup();
      expect(t.read('a', ['b'])).toEqual(waiting());
      expect(t.read('b', ['a'])).toEqual({ kind: 'cycle', cycle: ['b', 'a', 'b'] });
    });

    it('names a three-record cycle closed by the last record read', () => {
      const t = setup();
      expect(t.read('a', ['b'])).toEqual(waiting());
      expect(t.read('b', ['c'])).toEqual(waiting());
      expect(t.read('c', ['a'])).toEqual({ kind: 'cycle', cycle: ['c', 'a', 'b', 'c'] });
    });

    it('finds a cycle through a side branch among many waiters', () => {
      const t = setup();
      t.read('a', ['b', 'x']);
      t.read('x', ['y']);
      t.read('b', ['c', 'w']);
      t.read('w', ['v']);
      t.read('c', ['d']);
      expect(t.read('d', ['q', 'a'])).toEqual({ kind: 'cycle', cycle: ['d', 'a', 'b', 'c', 'd'] });
    });

    it('sees no cycle in a diamond or in a chain of waiters', () => {
      const t = setup();
      expect(t.read('d', ['b', 'c'])).toEqual(waiting());
      expect(t.read('b', ['a'])).toEqual(waiting());
      expect(t.read('c', ['a'])).toEqual(waiting());
      expect(t.read('e', ['d', 'b'])).toEqual(waiting());
      expect(t.read('a')).toEqual({ kind: 'ready', failedDependencies: [] });
      expect(t.tracker.waiting).toBe(4);
    });

    it('does not register a refused record as a waiter', () => {
      const t = setup();
      t.read('a', ['b']);
      expect(t.read('b', ['a']).kind).toBe('cycle');
      expect(t.tracker.waiting).toBe(1);
    });
  });

  describe('DependencyTracker: missing keys and remove', () => {
    it('lists, once the source is exhausted, the waiters on a key no record has', () => {
      const t = setup();
      t.read('a', ['ghost']);
      t.read('b', ['a']);
      t.read('c', ['b', 'phantom']);
      t.read('p');
      t.read('d', ['p']);
      const missing = t.tracker.missing().map((m) => [m.waiter.key, m.missingKey]);
      expect(missing).toEqual([
        ['a', 'ghost'],
        ['c', 'phantom'],
      ]);
    });

    it('takes a removed waiter out: it is never released afterwards', () => {
      const t = setup();
      t.read('p');
      t.read('a', ['p', 'ghost']);
      const [entry] = t.tracker.missing();
      t.tracker.remove(entry!.waiter);
      expect(entry!.waiter.released).toBe(true);
      expect(t.tracker.waiting).toBe(0);
      expect(t.tracker.missing()).toEqual([]);
      expect(t.settle('p', 'succeeded')).toEqual([]);
    });

    it('blocks the dependents of a removed (failed) waiter', () => {
      const t = setup();
      t.read('a', ['ghost']);
      t.read('b', ['a']);
      t.read('c', ['b']);
      const [entry] = t.tracker.missing();
      t.tracker.remove(entry!.waiter);
      expect(t.summary(t.cascade('a', 'failed'))).toEqual([
        ['b', 'blocked', ['a']],
        ['c', 'blocked', ['b', 'a']],
      ]);
      expect(t.tracker.missing()).toEqual([]);
    });
  });

  describe("DependencyTracker: the 'run' policy", () => {
    it('runs a record whose dependency already failed, naming it', () => {
      const t = setup('run');
      t.read('a');
      t.settle('a', 'failed');
      t.read('b');
      t.settle('b', 'succeeded');
      expect(t.read('c', ['a', 'b'])).toEqual({ kind: 'ready', failedDependencies: ['a'] });
    });

    it('accumulates the failed dependencies of a waiter and runs it once all have ended', () => {
      const t = setup('run');
      t.read('x');
      t.settle('x', 'failed');
      expect(t.read('r', ['x', 'a', 'b', 'c'])).toEqual(waiting());
      t.read('a');
      t.read('b');
      t.read('c');
      expect(t.settle('a', 'failed')).toEqual([]);
      expect(t.settle('b', 'succeeded')).toEqual([]);
      expect(t.summary(t.settle('c', 'failed'))).toEqual([['r', 'ready', ['x', 'a', 'c']]]);
    });

    it('runs the dependents of a failure with an empty list when none of their own dependencies failed', () => {
      const t = setup('run');
      t.read('b', ['a']);
      t.read('c', ['b']);
      t.read('a');
      expect(t.summary(t.settle('a', 'failed'))).toEqual([['b', 'ready', ['a']]]);
      expect(t.summary(t.settle('b', 'succeeded'))).toEqual([['c', 'ready', []]]);
    });

    it('still refuses cycles', () => {
      const t = setup('run');
      t.read('a', ['b']);
      expect(t.read('b', ['a'])).toEqual({ kind: 'cycle', cycle: ['b', 'a', 'b'] });
    });
  });
});

describe('DependencyTracker: stored records', () => {
  beforeAll(() => {
    mode = 'stored';
  });

  /** Every key has the same hash: each settled key wakes every stored record. */
  const sameHash = (): void => {
    keyHash[0] = 7;
    keyHash[1] = 7;
  };

  it('reads a stored record again only to release it, and keeps it in 100 bytes or less (two dependencies each)', () => {
    const t = setup();
    for (let i = 0; i < 100_000; i++) expect(t.read(`c${i}`, [`p${i}`, 'root'])).toEqual({ kind: 'stored' });
    expect(t.tracker.waiting).toBe(100_000);
    expect(t.tracker.storedBytes / 100_000).toBeLessThanOrEqual(100);
    t.read('root');
    expect(t.settle('root', 'succeeded')).toEqual([]);
    expect(t.recalls).toEqual([]);
    t.read('p5');
    expect(t.summary(t.settle('p5', 'succeeded'))).toEqual([['c5', 'ready', []]]);
    expect(t.recalls).toEqual(['c5']);
    expect(t.tracker.waiting).toBe(99_999);
  });

  it('holds the watermark at the oldest stored record until it is closed', () => {
    const t = setup();
    t.read('a', ['x']);
    t.read('b', ['x']);
    t.read('x');
    expect(t.tracker.oldestStored()).toEqual({ seq: 0, line: 1, offset: 0 });
    const [a, b] = t.settle('x', 'succeeded');
    // Out again (released) but not finished: still held.
    expect(t.tracker.oldestStored()?.seq).toBe(0);
    t.tracker.close(b!.waiter.slot);
    expect(t.tracker.oldestStored()?.seq).toBe(0);
    t.tracker.close(a!.waiter.slot);
    expect(t.tracker.oldestStored()).toBeUndefined();
  });

  it('with every key colliding, releases exactly the records whose dependencies settled', () => {
    const t = setup('skip', new Map(), sameHash);
    t.read('c', ['a']);
    t.read('d', ['b']);
    t.read('e', ['a', 'b']);
    t.read('a');
    t.read('b');
    expect(t.summary(t.settle('b', 'succeeded'))).toEqual([['d', 'ready', []]]);
    expect(t.tracker.waiting).toBe(2);
    expect(t.summary(t.settle('a', 'succeeded'))).toEqual([
      ['c', 'ready', []],
      ['e', 'ready', []],
    ]);
    expect(t.tracker.waiting).toBe(0);
  });

  it('with every key colliding, a failure blocks only its own dependents', () => {
    const t = setup('skip', new Map(), sameHash);
    t.read('c', ['a']);
    t.read('d', ['b']);
    t.read('a');
    t.read('b');
    expect(t.summary(t.cascade('b', 'failed'))).toEqual([['d', 'blocked', ['b']]]);
    expect(t.tracker.waiting).toBe(1);
    expect(t.summary(t.cascade('a', 'succeeded'))).toEqual([['c', 'ready', []]]);
  });

  it('with every key colliding, a record woken early waits again for what is left, and is released once', () => {
    const t = setup('skip', new Map(), sameHash);
    t.read('r', ['a', 'b', 'c']);
    t.read('x', ['y']);
    t.read('y');
    // y's settle wakes r three times over (one edge per dependency, all in one list): it is read
    // again, found waiting on a, b and c, and waits again.
    expect(t.summary(t.settle('y', 'succeeded'))).toEqual([['x', 'ready', []]]);
    expect(t.tracker.waiting).toBe(1);
    for (const key of ['a', 'b']) {
      t.read(key);
      expect(t.settle(key, 'succeeded')).toEqual([]);
    }
    t.read('c');
    expect(t.summary(t.settle('c', 'succeeded'))).toEqual([['r', 'ready', []]]);
    expect(t.tracker.waiting).toBe(0);
  });
});
