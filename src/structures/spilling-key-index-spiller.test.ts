/**
 * SpillingKeyIndex with a RunSpiller (a worker thread in the SQLite ledger: its own tests are in
 * test/integration/key-run-spiller.test.ts): the table being spilled is still searched, the
 * spiller's runs replace it at a later commit with what that spill covered, and a spiller that fails
 * loses nothing (its table is spilled here).
 */
import { describe, expect, it } from 'vitest';
import type { KeyOwner } from './key-index.js';
import { MemoryRunStore } from './memory-run-store.js';
import { mergeNewestRuns } from './merge-newest-runs.js';
import { sortIntoRun } from './sort-into-run.js';
import type { RunStore, SortedRun } from './sorted-run.js';
import type { RunSpiller } from './run-spiller.js';
import { SpillingKeyIndex } from './spilling-key-index.js';

/** Does a spill as the worker does, in this thread, when told to (`ready`), or fails (`fail`). */
class TestSpiller implements RunSpiller {
  ready = false;
  fail = false;
  started = 0;
  waited = 0;
  closed = false;
  private job: { slots: Uint32Array; runs: readonly SortedRun[] } | undefined;

  constructor(private readonly store: RunStore) {}

  start(slots: Uint32Array, runs: readonly SortedRun[]): void {
    expect(this.job).toBeUndefined();
    expect(slots.buffer).toBeInstanceOf(SharedArrayBuffer);
    this.job = { slots, runs };
    this.started++;
  }

  finished(wait: boolean): SortedRun[] | undefined {
    const job = this.job;
    if (job === undefined || (!this.ready && !wait)) return undefined;
    if (wait) this.waited++;
    this.job = undefined;
    if (this.fail) throw new Error('the spill worker died');
    const runs = [...job.runs, sortIntoRun(job.slots, this.store)];
    // The worker deletes what it wrote and merged away; the runs listed before are the index's.
    mergeNewestRuns(runs, this.store, (run) => {
      if (!job.runs.includes(run)) this.store.remove(run.data);
    });
    return runs;
  }

  close(): void {
    this.closed = true;
  }
}

function spilling(spillKeys: number): { index: SpillingKeyIndex; spiller: TestSpiller; store: MemoryRunStore } {
  const store = new MemoryRunStore();
  const spiller = new TestSpiller(store);
  return { index: new SpillingKeyIndex({ store, spillKeys, spiller }), spiller, store };
}

describe('SpillingKeyIndex with a spiller', () => {
  it('keeps finding the keys of a table being spilled, and takes its runs in at a later commit with what that commit covered', () => {
    const { index, spiller } = spilling(4);
    for (let seq = 0; seq < 4; seq++) expect(index.add(`k${seq}`, seq, seq + 10)).toBeUndefined();
    index.drain();
    expect(index.spillWhenFull('commit 1')).toBeUndefined();
    expect(spiller.started).toBe(1);
    expect(index.runRecords).toEqual([]);
    // The frozen table answers until its run replaces it.
    expect(index.add('k2', 9, 19)).toEqual({ seq: 2, line: 12 });
    expect(index.add('k2', 2, 12)).toBeUndefined();
    expect(index.find('k1')).toEqual({ seq: 1, line: 11 });
    expect(index.add('k4', 4, 14)).toBeUndefined();
    expect(index.size).toBe(5);
    const seqs: number[] = [];
    index.forEachSeq((seq) => seqs.push(seq));
    expect(seqs.sort()).toEqual([0, 1, 2, 3, 4]);
    // The key of the new table goes into the next commit only.
    expect(index.drain().byteLength).toBe(16);
    expect(index.spillWhenFull('commit 2')).toBeUndefined();
    spiller.ready = true;
    expect(index.spillWhenFull('commit 3')).toBe('commit 1');
    expect(index.runRecords).toHaveLength(1);
    expect(index.runRecords[0]!.entries).toBe(4);
    expect(index.add('k2', 9, 19)).toEqual({ seq: 2, line: 12 });
    expect(index.find('k4')).toEqual({ seq: 4, line: 14 });
    expect(index.size).toBe(5);
  });

  it('agrees with a Map over 20,000 keys with duplicates while spills finish commits after they started, and leaves no run behind', () => {
    const { index, spiller, store } = spilling(256);
    const reference = new Map<string, KeyOwner>();
    for (let i = 0; i < 20_000; i++) {
      const key = i % 50 === 49 ? `key-${i - 3000}` : i % 77 === 76 ? `key-${i - 300}` : `key-${i}`;
      const expected = reference.get(key);
      if (expected === undefined) reference.set(key, { seq: i, line: i + 1 });
      expect(index.add(key, i, i + 1)).toEqual(expected);
      if (i % 100 === 99) {
        index.drain();
        // A spill finishes two or three commits after it started.
        spiller.ready = i % 300 === 299;
        index.spillWhenFull(i);
      }
    }
    expect(spiller.started).toBeGreaterThan(20);
    expect(index.size).toBe(reference.size);
    for (const [key, owner] of reference) expect(index.find(key)).toEqual(owner);
    index.settle(true);
    expect(index.runRecords.length).toBeLessThanOrEqual(8);
    expect([...store.live].sort()).toEqual(index.runRecords.map((run) => run.name).sort());
    for (const [key, owner] of reference) expect(index.find(key)).toEqual(owner);
  });

  it('spills the table here when the spiller fails, losing nothing, and makes the next spills here', () => {
    const { index, spiller, store } = spilling(100);
    for (let seq = 0; seq < 100; seq++) index.add(`key-${seq}`, seq, seq + 1);
    index.drain();
    expect(index.spillWhenFull('commit 1')).toBeUndefined();
    spiller.fail = true;
    spiller.ready = true;
    for (let seq = 100; seq < 150; seq++) index.add(`key-${seq}`, seq, seq + 1);
    index.drain();
    // The failed spill's table went into a run here, and covers what its own commit said.
    expect(index.spillWhenFull('commit 2')).toBe('commit 1');
    expect(spiller.closed).toBe(true);
    expect(index.runRecords).toHaveLength(1);
    for (let seq = 150; seq < 250; seq++) index.add(`key-${seq}`, seq, seq + 1);
    index.drain();
    expect(index.spillWhenFull('commit 3')).toBe('commit 3');
    expect(spiller.started).toBe(1);
    for (let seq = 0; seq < 250; seq++) expect(index.add(`key-${seq}`, 9999, 1)).toEqual({ seq, line: seq + 1 });
    expect([...store.live].sort()).toEqual(index.runRecords.map((run) => run.name).sort());
  });

  it('waits for a spill under way only when the new table is well past spillKeys (a spiller slower than the keys)', () => {
    const { index, spiller } = spilling(100);
    const fill = (from: number, to: number): void => {
      for (let seq = from; seq < to; seq++) index.add(`key-${seq}`, seq, seq + 1);
      index.drain();
    };
    fill(0, 100);
    index.spillWhenFull(1);
    fill(100, 220);
    expect(index.spillWhenFull(2)).toBeUndefined();
    expect(spiller.waited).toBe(0);
    fill(220, 240);
    // 140 keys in the new table: the spill under way is waited for, and the next one starts.
    expect(index.spillWhenFull(3)).toBe(1);
    expect(spiller.waited).toBe(1);
    expect(spiller.started).toBe(2);
    expect(index.runRecords).toHaveLength(1);
  });

  it('spills here, after the spill under way, when asked to at once (a load)', () => {
    const { index, spiller } = spilling(10);
    for (let seq = 0; seq < 10; seq++) index.add(`key-${seq}`, seq, seq + 1);
    index.drain();
    index.spillWhenFull('commit 1');
    index.add('key-10', 10, 11);
    index.drain();
    index.spill();
    expect(spiller.waited).toBe(1);
    expect(index.runRecords.map((run) => run.entries)).toEqual([10, 1]);
    expect(index.size).toBe(11);
  });
});
