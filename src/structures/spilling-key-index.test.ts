import { describe, expect, it } from 'vitest';
import { BloomFilter } from './bloom-filter.js';
import { KeyIndex, type KeyOwner } from './key-index.js';
import { MemoryRunStore } from './memory-run-store.js';
import { openRun, type RunBytes, type RunPages, type RunSink, type RunStore } from './sorted-run.js';
import { SpillingKeyIndex } from './spilling-key-index.js';

/** A memory store that counts the reads of runs: a read happens only when the filter said "maybe". */
class CountingStore implements RunStore {
  reads = 0;
  readonly inner = new MemoryRunStore();
  readonly runs = new Map<string, RunBytes>();
  readonly pages = new Map<string, RunPages>();

  create(): RunSink {
    const sink = this.inner.create();
    return {
      append: (bytes) => sink.append(bytes),
      finish: (pages) => {
        const data = sink.finish(pages);
        this.pages.set(data.name, pages);
        const counted: RunBytes = {
          name: data.name,
          bytes: data.bytes,
          read: (offset, into) => {
            this.reads++;
            return data.read(offset, into);
          },
        };
        this.runs.set(data.name, counted);
        return counted;
      },
    };
  }

  remove(run: RunBytes): void {
    this.runs.delete(run.name);
    this.inner.remove(run);
  }
}

/** Adds `key` to both, checks they agree, returns the index's answer. */
function addBoth(index: SpillingKeyIndex, reference: Map<string, KeyOwner>, key: string, seq: number): KeyOwner | undefined {
  const owner = index.add(key, seq, seq + 1);
  const expected = reference.get(key);
  if (expected === undefined) reference.set(key, { seq, line: seq + 1 });
  expect(owner).toEqual(expected === undefined || expected.seq === seq ? undefined : expected);
  return owner;
}

describe('SpillingKeyIndex', () => {
  it('finds a duplicate whether its first owner is in the table or in a run; the same record again is none', () => {
    const index = new SpillingKeyIndex({ store: new MemoryRunStore(), spillKeys: 4 });
    for (let seq = 0; seq < 4; seq++) expect(index.add(`k${seq}`, seq, seq + 10)).toBeUndefined();
    expect(index.drain().byteLength).toBe(64);
    expect(index.spillIfFull()).toBe(true);
    expect(index.runRecords).toHaveLength(1);
    expect(index.add('k5', 5, 15)).toBeUndefined(); // in the table
    expect(index.add('k2', 9, 19)).toEqual({ seq: 2, line: 12 }); // in a run
    expect(index.add('k2', 2, 12)).toBeUndefined(); // read again after a resume
    expect(index.add('k5', 9, 19)).toEqual({ seq: 5, line: 15 });
    expect(index.find('k1')).toEqual({ seq: 1, line: 11 });
    expect(index.find('k9')).toBeUndefined();
    expect(index.size).toBe(5);
  });

  it('starts small and grows to what reserve says, so that a short run pays for no 8 MB table', () => {
    const index = new SpillingKeyIndex({ store: new MemoryRunStore() });
    expect(index.bytes).toBeLessThan(64 * 1024);
    index.reserve(11_000);
    // A 16,384-slot table (256 KB), its 16 KB drain log (copies) and a filter of 11,000 keys (~14 KB).
    expect(index.bytes).toBeLessThan(300 * 1024);
    const reference = new Map<string, KeyOwner>();
    for (let seq = 0; seq < 20_000; seq++) addBoth(index, reference, `k${seq % 15_000}`, seq);
    expect(index.size).toBe(15_000);
  });

  it('does not spill entries that were not drained: they are the next commit', () => {
    const index = new SpillingKeyIndex({ store: new MemoryRunStore(), spillKeys: 2 });
    index.add('a', 0, 1);
    index.add('b', 1, 2);
    expect(index.spillIfFull()).toBe(false);
    index.drain();
    expect(index.spillIfFull()).toBe(true);
  });

  it('agrees with a Map over 20,000 keys with duplicates, through spills and merges, and settles every filter "maybe" exactly', () => {
    const store = new CountingStore();
    const index = new SpillingKeyIndex({ store, spillKeys: 256 });
    const reference = new Map<string, KeyOwner>();
    let seq = 0;
    let readsForNewKeys = 0;
    for (let i = 0; i < 20_000; i++) {
      // Every 50th record repeats the key of a record ~3000 records back (long spilled by then).
      const key = i % 50 === 49 ? `key-${i - 3000}` : `key-${i}`;
      const before = store.reads;
      const isNew = !reference.has(key);
      addBoth(index, reference, key, seq++);
      if (isNew) readsForNewKeys += store.reads - before;
      if (i % 100 === 99) {
        index.drain();
        index.spillIfFull();
      }
    }
    // New keys the filter could not rule out were looked up in the runs, and found absent.
    expect(readsForNewKeys).toBeGreaterThan(0);
    expect(index.size).toBe(reference.size);
    // Sizes roughly double from the oldest run to the newest: a handful of runs, not 70.
    expect(index.runRecords.length).toBeLessThanOrEqual(8);
    expect(store.runs.size).toBe(index.runRecords.length);
    for (const [key, owner] of reference) expect(index.find(key)).toEqual(owner);
    const seqs: number[] = [];
    index.forEachSeq((s) => seqs.push(s));
    expect(seqs.sort((a, b) => a - b)).toEqual([...reference.values()].map((owner) => owner.seq).sort((a, b) => a - b));
  });

  it('loads drained chunks back (spilling as it fills) with the same owners, and drains none of them', () => {
    const first = new SpillingKeyIndex({ store: new MemoryRunStore(), spillKeys: 100 });
    const chunks: Uint8Array[] = [];
    for (let seq = 0; seq < 1000; seq++) {
      first.add(`key-${seq}`, seq, seq + 1);
      if (seq % 70 === 69) chunks.push(first.drain());
    }
    chunks.push(first.drain());
    const loaded = new SpillingKeyIndex({ store: new MemoryRunStore(), spillKeys: 100 });
    for (const chunk of chunks) loaded.load(Buffer.concat([Buffer.alloc(1), chunk]).subarray(1)); // at an odd offset
    expect(loaded.size).toBe(1000);
    expect(loaded.runRecords.length).toBeGreaterThan(0);
    expect(loaded.drain().byteLength).toBe(0);
    for (let seq = 0; seq < 1000; seq += 37) expect(loaded.add(`key-${seq}`, 5000, 1)).toEqual({ seq, line: seq + 1 });
    expect(loaded.add('key-1000', 1000, 1001)).toBeUndefined();
  });

  it('refuses a chunk that is not whole entries, as KeyIndex does', () => {
    const index = new SpillingKeyIndex({ store: new MemoryRunStore() });
    expect(() => index.load(new Uint8Array(17))).toThrow(/not a multiple of 16/);
  });

  it('opens runs written earlier into a new index, and refuses a damaged one with a RangeError', () => {
    const store = new CountingStore();
    const writer = new SpillingKeyIndex({ store, spillKeys: 64 });
    for (let seq = 0; seq < 300; seq++) writer.add(`key-${seq}`, seq, seq + 1);
    writer.drain();
    writer.spill();
    const records = writer.runRecords;
    const runs = records.map((record) => ({ data: store.runs.get(record.name)!, record }));

    const reader = new SpillingKeyIndex({ store, spillKeys: 64 });
    reader.openRuns(runs, 300);
    expect(reader.size).toBe(300);
    expect(reader.add('key-7', 400, 1)).toEqual({ seq: 7, line: 8 });
    expect(reader.add('key-300', 300, 301)).toBeUndefined();

    const damaged = { ...runs[0]!, record: { ...runs[0]!.record, crc: runs[0]!.record.crc ^ 1 } };
    expect(() => new SpillingKeyIndex({ store, spillKeys: 64 }).openRuns([damaged], 300)).toThrow(RangeError);
    const cut: RunBytes = { ...runs[0]!.data, bytes: runs[0]!.data.bytes - 8, read: runs[0]!.data.read };
    expect(() => openRun(cut, undefined)).toThrow(/partial entry/);
  });

  it('opens runs from their kept pages and a filter without reading them; a changed page is refused when read', () => {
    const store = new CountingStore();
    const writer = new SpillingKeyIndex({ store, spillKeys: 64 });
    for (let seq = 0; seq < 3000; seq++) writer.add(`key-${seq}`, seq, seq + 1);
    writer.drain();
    writer.spill();
    const runs = writer.runRecords.map((record) => ({ data: store.runs.get(record.name)!, record, pages: store.pages.get(record.name)! }));

    const before = store.reads;
    const reader = new SpillingKeyIndex({ store, spillKeys: 64 });
    reader.openRuns(runs, 3000, new BloomFilter(writer.filter.capacity, writer.filter.words.slice()));
    expect(store.reads).toBe(before);
    expect(reader.size).toBe(3000);
    for (let seq = 0; seq < 3000; seq += 7) expect(reader.find(`key-${seq}`)).toEqual({ seq, line: seq + 1 });
    expect(reader.add('key-3000', 3000, 3001)).toBeUndefined();

    // Without a filter, the runs are read to build one.
    const scanned = new SpillingKeyIndex({ store, spillKeys: 64 });
    const reads = store.reads;
    scanned.openRuns(runs, 3000);
    expect(store.reads).toBeGreaterThan(reads);
    expect(scanned.find('key-2999')).toEqual({ seq: 2999, line: 3000 });

    // A page that changed since its CRC was taken.
    const changed = runs.map((run) => ({
      ...run,
      data: {
        ...run.data,
        read: (offset: number, into: Uint8Array) => {
          const n = run.data.read(offset, into);
          into[0]! ^= 1;
          return n;
        },
      },
    }));
    const damaged = new SpillingKeyIndex({ store, spillKeys: 64 });
    damaged.openRuns(changed, 3000, new BloomFilter(writer.filter.capacity, writer.filter.words.slice()));
    expect(() => damaged.find('key-5')).toThrow(/has a damaged page \(page \d+ does not match its CRC-32\)/);
  });

  it('grows its filter past the planned keys, so a "maybe" stays rare', () => {
    const store = new CountingStore();
    const index = new SpillingKeyIndex({ store, spillKeys: 1024 });
    for (let seq = 0; seq < 50_000; seq++) {
      index.add(`key-${seq}`, seq, 0);
      if (seq % 1000 === 999) {
        index.drain();
        index.spillIfFull();
      }
    }
    const before = store.reads;
    for (let i = 0; i < 10_000; i++) index.add(`other-${i}`, 100_000 + i, 0);
    // Each "maybe" reads one page per run: at ~1% of 10,000 keys and a few runs, well under 1,000.
    expect(store.reads - before).toBeLessThan(1000);
  });
});

describe('BloomFilter', () => {
  it('never says "no" for a hash it holds, and says "maybe" for ~1% of others at its planned keys', () => {
    const keys = new KeyIndex();
    const filter = new BloomFilter(100_000);
    for (let i = 0; i < 100_000; i++) {
      keys.hashKey(`held-${i}`);
      filter.add(keys.hashHi, keys.hashLo);
    }
    for (let i = 0; i < 100_000; i++) {
      keys.hashKey(`held-${i}`);
      expect(filter.mayHold(keys.hashHi, keys.hashLo)).toBe(true);
    }
    let maybe = 0;
    for (let i = 0; i < 100_000; i++) {
      keys.hashKey(`other-${i}`);
      if (filter.mayHold(keys.hashHi, keys.hashLo)) maybe++;
    }
    expect(maybe).toBeGreaterThan(100); // > 0.1%: false positives happen, and the index must settle them
    expect(maybe).toBeLessThan(2000); // < 2%
    expect(filter.bytes).toBe(Math.ceil((100_000 * 10) / 256) * 32);
  });

  it('adds stored entries as `add` does, a hash of (0, 0) as (0, 1), from a chunk at any offset', () => {
    const keys = new KeyIndex();
    const entries = new Uint32Array(4 * 1001);
    for (let i = 0; i < 1000; i++) {
      keys.hashKey(`key-${i}`);
      entries.set([keys.hashHi, keys.hashLo, i, i + 1], i * 4);
    }
    const one = new BloomFilter(1001);
    for (let at = 0; at < entries.length; at += 4) one.add(entries[at]!, at === 4000 ? 1 : entries[at + 1]!);
    const bytes = new Uint8Array(entries.buffer);
    const aligned = new BloomFilter(1001);
    aligned.addEntries(bytes);
    expect(aligned.words).toEqual(one.words);
    const odd = new BloomFilter(1001);
    odd.addEntries(Buffer.concat([Buffer.alloc(3), bytes]).subarray(3));
    expect(odd.words).toEqual(one.words);
  });
});
