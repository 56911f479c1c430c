import { describe, expect, it } from 'vitest';
import { InFlightWindow } from './in-flight-window.js';

interface Entry {
  readonly seq: number;
  done: boolean;
}

function fill(count: number): { window: InFlightWindow<Entry>; entries: Entry[] } {
  const window = new InFlightWindow<Entry>((entry) => entry.done);
  const entries: Entry[] = [];
  for (let seq = 0; seq < count; seq++) {
    const entry = { seq, done: false };
    entries.push(entry);
    window.add(entry);
  }
  return { window, entries };
}

/** The window's backing array length, to check that compaction bounds memory. */
function storedLength(window: InFlightWindow<Entry>): number {
  return (window as unknown as { entries: Entry[] }).entries.length;
}

const seqs = (entries: readonly Entry[]): number[] => entries.map((e) => e.seq);

describe('InFlightWindow', () => {
  it('is empty at first', () => {
    const window = new InFlightWindow<Entry>((entry) => entry.done);
    expect(window.oldest()).toBeUndefined();
    expect(window.open()).toEqual([]);
  });

  it('oldest() is the first entry without an outcome, in insertion order', () => {
    const { window, entries } = fill(5);
    expect(window.oldest()?.seq).toBe(0);
    (entries[0] as Entry).done = true;
    expect(window.oldest()?.seq).toBe(1);
    // Finishing out of order does not move the head past an open entry.
    (entries[3] as Entry).done = true;
    expect(window.oldest()?.seq).toBe(1);
    (entries[1] as Entry).done = true;
    (entries[2] as Entry).done = true;
    expect(window.oldest()?.seq).toBe(4);
    (entries[4] as Entry).done = true;
    expect(window.oldest()).toBeUndefined();
  });

  it('open() lists the entries without an outcome, oldest first, skipping finished ones in the middle', () => {
    const { window, entries } = fill(6);
    for (const i of [0, 2, 5]) (entries[i] as Entry).done = true;
    expect(seqs(window.open())).toEqual([1, 3, 4]);
  });

  it('open() returns a copy: finishing entries while iterating it does not skip any', () => {
    const { window } = fill(4);
    const visited: number[] = [];
    for (const entry of window.open()) {
      visited.push(entry.seq);
      entry.done = true;
    }
    expect(visited).toEqual([0, 1, 2, 3]);
    expect(window.open()).toEqual([]);
  });

  it('compacts once more than 1024 finished entries make up most of the array, keeping every open entry', () => {
    const { window, entries } = fill(2000);
    for (let i = 0; i < 1025; i++) (entries[i] as Entry).done = true;
    expect(window.oldest()?.seq).toBe(1025);
    expect(storedLength(window)).toBe(2000 - 1025);
    expect(seqs(window.open())).toEqual(Array.from({ length: 975 }, (_, i) => 1025 + i));
    // Adding and finishing after the compaction goes on from the right place.
    window.add({ seq: 2000, done: false });
    for (let i = 1025; i < 2000; i++) (entries[i] as Entry).done = true;
    expect(window.oldest()?.seq).toBe(2000);
    // 975 finished entries are below the 1024 threshold: no second compaction yet.
    expect(storedLength(window)).toBe(976);
    expect(seqs(window.open())).toEqual([2000]);
  });

  it('does not compact at 1024 finished entries or when the finished prefix is not the majority', () => {
    const small = fill(1500);
    for (let i = 0; i < 1024; i++) (small.entries[i] as Entry).done = true;
    expect(small.window.oldest()?.seq).toBe(1024);
    expect(storedLength(small.window)).toBe(1500);

    const large = fill(4000);
    for (let i = 0; i < 1500; i++) (large.entries[i] as Entry).done = true;
    expect(large.window.oldest()?.seq).toBe(1500);
    expect(storedLength(large.window)).toBe(4000);
  });

  it('keeps memory bounded by the open entries over a long stream that finishes in order', () => {
    const window = new InFlightWindow<Entry>((entry) => entry.done);
    let maxStored = 0;
    let previous: Entry | undefined;
    for (let seq = 0; seq < 50_000; seq++) {
      const entry = { seq, done: false };
      window.add(entry);
      if (previous) previous.done = true;
      previous = entry;
      expect(window.oldest()).toBe(entry);
      maxStored = Math.max(maxStored, storedLength(window));
    }
    expect(maxStored).toBeLessThanOrEqual(2 * 1025 + 1);
  });

  it('keeps memory bounded by the open entries when the oldest entry stays open (a record waiting for a long retry)', () => {
    // One slow record (a Retry-After, a hung handler until timeoutMs) must not make the window keep
    // every record read after it: at 50k records/s a 60 s wait would be 3M entries and their records.
    const window = new InFlightWindow<Entry>((entry) => entry.done);
    window.add({ seq: 0, done: false });
    for (let seq = 1; seq <= 20_000; seq++) {
      const entry = { seq, done: false };
      window.add(entry);
      entry.done = true;
      // The engine compacts at each group commit (every 1000 outcomes by default).
      if (seq % 1000 === 0) window.compact();
    }
    expect(window.oldest()?.seq).toBe(0);
    expect(seqs(window.open())).toEqual([0]);
    expect(storedLength(window)).toBeLessThanOrEqual(2 * 1025 + 1);
  });

  it('keeps at most 64 entries beyond twice the open ones behind an open one, not thousands', () => {
    // A record waiting to retry holds the head while the records read after it finish. A pass comes
    // at twice what the last one kept plus 64 and keeps the open ones: at most 2 × open + 64 entries
    // stay, and the one just added (a bound of 1,024 let ~3,000 stay).
    const window = new InFlightWindow<Entry>((entry) => entry.done);
    window.add({ seq: 0, done: false });
    let maxStored = 0;
    for (let seq = 1; seq <= 5000; seq++) {
      const entry = { seq, done: false };
      window.add(entry);
      entry.done = true;
      maxStored = Math.max(maxStored, storedLength(window));
    }
    expect(seqs(window.open())).toEqual([0]);
    expect(maxStored).toBeLessThanOrEqual(2 * 1 + 64 + 1);
  });

  it('drops entries that leave behind an open one as it grows, with no one asking for the oldest', () => {
    // Records set aside by the dependency gate leave the window as they are read, while commits
    // (which ask for the oldest) may not come at all: the window must not keep them.
    const window = new InFlightWindow<Entry>((entry) => entry.done);
    window.add({ seq: 0, done: false });
    for (let seq = 1; seq <= 100_000; seq++) {
      const entry = { seq, done: false };
      window.add(entry);
      entry.done = true;
    }
    expect(storedLength(window)).toBeLessThan(3000);
    expect(seqs(window.open())).toEqual([0]);
  });

  it('lets go of the entries finished at its head when the next one is added, not at the next oldest()', () => {
    const { window, entries } = fill(3);
    (entries[0] as Entry).done = true;
    (entries[1] as Entry).done = true;
    window.add({ seq: 3, done: false });
    // The array no longer references them, so the collector can free them while they are young.
    const stored = (window as unknown as { entries: (Entry | undefined)[] }).entries;
    expect(stored.filter((entry) => entry !== undefined).map((entry) => entry.seq)).toEqual([2, 3]);
    expect(seqs(window.open())).toEqual([2, 3]);
  });
});
