/**
 * The record keys of a ledger (the `RecordKeys` of ledger/ledger.ts) in bounded memory: the keys of
 * the latest records in a small KeyIndex table, every older key in sorted runs (sorted-run.ts) kept
 * by a `RunStore` (files beside the ledger), and a Bloom filter (bloom-filter.ts) over all of them
 * that rules out most new keys without reading a run. Exact all the same: a "maybe" from the filter
 * is settled by finding the hash in the runs (one 4 KB read a run), so a key seen before is always
 * reported and a key never seen is never reported (up to the 64-bit hash collisions that KeyIndex
 * documents).
 *
 * Memory at 10M keys: the filter ~12.5 MB (10 bits a key), the table 8 MB, the runs' pages ~0.9 MB;
 * a KeyIndex alone held 256 MB. When the table holds {@link SpillingKeyIndexOptions.spillKeys} keys
 * and all of them were drained (stored by a commit), they are sorted into a new run; runs of
 * similar size are merged (the newest two while the older is at most twice the newer), so there are
 * about log2(keys / spillKeys) runs and each entry is rewritten about as often.
 */
import { BloomFilter } from './bloom-filter.js';
import { KEY_INDEX_ENTRY_BYTES, KeyIndex, type KeyOwner } from './key-index.js';
import { sortIntoRun } from './sort-into-run.js';
import {
  mergeRuns,
  openRun,
  restoreRun,
  runPage,
  scanRun,
  type RunBytes,
  type RunPages,
  type RunStore,
  type SortedRun,
} from './sorted-run.js';

/** Options of {@link SpillingKeyIndex}. */
export interface SpillingKeyIndexOptions {
  /** Where the sorted runs are kept. */
  readonly store: RunStore;
  /**
   * Keys the in-memory table holds before they are spilled into a run (when all are drained).
   * @default 262144 (an 8 MB table)
   */
  readonly spillKeys?: number;
}

/** What a ledger records about one run, to open it again (ledger/sqlite/key-runs.ts). */
export interface RunRecord {
  readonly name: string;
  readonly entries: number;
  /** The run's CRC (sorted-run.ts `pagesCrc`). */
  readonly crc: number;
}

/** A run written earlier, to open: its bytes, its record, and its pages when they were kept. */
export interface StoredRun {
  readonly data: RunBytes;
  readonly record: RunRecord;
  readonly pages?: RunPages;
}

const DEFAULT_SPILL_KEYS = 262_144;
/** Keys the table and the filter are first sized for: a 32 KB table and a 1.25 KB filter. */
const INITIAL_KEYS = 1024;
const WORDS = 4;

export class SpillingKeyIndex {
  private readonly store: RunStore;
  private readonly spillKeys: number;
  private readonly table: KeyIndex;
  private bloom: BloomFilter;
  private runs: SortedRun[] = [];
  /** Keys held in runs. */
  private inRuns = 0;
  private readonly page = runPage();
  /** Scratch for the table's entries at a spill. */
  private spillBuffer: Uint32Array | undefined;

  constructor(options: SpillingKeyIndexOptions) {
    this.store = options.store;
    this.spillKeys = options.spillKeys ?? DEFAULT_SPILL_KEYS;
    // Both start small and grow to what `reserve` says or the keys need (the table up to
    // spillKeys): a table sized for spillKeys up front is 8 MB whose pages a short run pays for
    // one page fault at a time, since keys land on random slots, and a filter of 320 KB is written
    // beside the ledger at its end.
    // Drained at every commit: its log copies the entries, so a drain reads none back from the table.
    this.table = new KeyIndex({ expectedKeys: Math.min(this.spillKeys, INITIAL_KEYS), logEntries: true });
    this.bloom = new BloomFilter(Math.min(this.spillKeys, INITIAL_KEYS));
  }

  /** Number of distinct keys held. */
  get size(): number {
    return this.inRuns + this.table.size;
  }

  /** The Bloom filter over every key held (and maybe more): what a store keeps to open the runs again. */
  get filter(): BloomFilter {
    return this.bloom;
  }

  /** Bytes held in memory: the table, the filter and the runs' pages. */
  get bytes(): number {
    return this.table.bytes + this.bloom.bytes + this.runs.reduce((sum, run) => sum + run.fenceBytes, 0);
  }

  /** The runs, oldest first, as a ledger records them. */
  get runRecords(): RunRecord[] {
    return this.runs.map((run) => ({ name: run.data.name, entries: run.entries, crc: run.crc }));
  }

  /** Entries added but not yet drained. */
  get undrained(): number {
    return this.table.undrained;
  }

  /** As KeyIndex.add: the earlier record holding `key` (a duplicate), or undefined (now held). */
  add(key: string, seq: number, line: number): KeyOwner | undefined {
    const table = this.table;
    table.hashKey(key);
    const hi = table.hashHi;
    const lo = table.hashLo;
    if (this.runs.length > 0 && this.bloom.mayHold(hi, lo)) {
      const owner = this.findInRuns(hi, lo);
      if (owner) {
        if (seq >>> 0 !== seq) throw new RangeError(`KeyIndex seq must be an integer from 0 to 2^32-1, got ${seq}`);
        return owner.seq === seq ? undefined : owner;
      }
    }
    const before = table.size;
    const owner = table.addHash(hi, lo, seq, line);
    if (table.size > before) this.filterAdd(hi, lo);
    return owner;
  }

  /** The record that holds `key`, or undefined. */
  find(key: string): KeyOwner | undefined {
    const table = this.table;
    table.hashKey(key);
    const hi = table.hashHi;
    const lo = table.hashLo;
    const owner = table.findHash(hi, lo);
    if (owner || this.runs.length === 0 || !this.bloom.mayHold(hi, lo)) return owner;
    return this.findInRuns(hi, lo);
  }

  /** Calls `visit` with the seq of every key held, in no particular order (reads every run). */
  forEachSeq(visit: (seq: number) => void): void {
    this.table.forEachSeq(visit);
    for (const run of this.runs) {
      scanRun(run, (words) => {
        for (let at = 2; at < words.length; at += WORDS) visit(words[at]!);
      });
    }
  }

  /**
   * Sizes the table (up to spillKeys) and the filter for about `keys` keys (a hint; never shrinks),
   * e.g. once the source's size tells how many records it has. The filter grows at least twofold:
   * each rebuild reads every run, and `load` asks again for every block of the key file it is given.
   */
  reserve(keys: number): void {
    this.table.reserve(Math.min(keys, this.spillKeys));
    if (keys > this.bloom.capacity) this.rebuildFilter(Math.max(Math.ceil(keys), 2 * this.bloom.capacity));
  }

  /** The entries added since the previous drain (KeyIndex.drain). */
  drain(): Uint8Array {
    return this.table.drain();
  }

  /**
   * Takes stored entries back (as KeyIndex.load): the key file's chunks on resume. Spills as the
   * table fills. An entry whose hash the table already holds is skipped; one whose hash is in a run
   * already cannot come from a ledger (every key was looked up before it was stored) and is kept
   * second: runs are searched oldest first, and a merge keeps the older entry.
   */
  load(chunk: Uint8Array): void {
    if (chunk.byteLength % KEY_INDEX_ENTRY_BYTES !== 0) this.table.load(chunk); // throws the KeyIndex error
    this.reserve(this.size + chunk.byteLength / KEY_INDEX_ENTRY_BYTES);
    for (let at = 0; at < chunk.byteLength;) {
      const room = Math.max(1, this.spillKeys - this.table.size) * KEY_INDEX_ENTRY_BYTES;
      const part = chunk.subarray(at, at + room);
      this.table.load(part);
      this.bloom.addEntries(part);
      at += part.byteLength;
      this.spillIfFull();
    }
  }

  /**
   * Takes runs written earlier (listed oldest first, as `runRecords` gave them). With `filter` (a
   * filter that holds every key of the runs, kept beside them) and every run's pages, nothing is
   * read: each page is checked when it is read. Otherwise each run is read once, for its pages and
   * into a new filter sized for `expectedKeys`.
   * @throws RangeError when a run read is damaged (out of order, cut, or not of its recorded size or
   *   CRC); the index is then unchanged and the caller rebuilds from the stored entries.
   */
  openRuns(runs: readonly StoredRun[], expectedKeys: number, filter?: BloomFilter): void {
    const inRuns = runs.reduce((sum, run) => sum + run.record.entries, 0);
    let opened = filter && filter.capacity >= inRuns ? restoreRuns(runs) : undefined;
    if (opened === undefined || filter === undefined) {
      filter = new BloomFilter(Math.max(this.spillKeys, expectedKeys, this.bloom.capacity));
      const scanning = filter;
      opened = runs.map(({ data, record }) => checkRecord(openRun(data, scanning), record));
    }
    this.runs = opened;
    this.inRuns = inRuns;
    this.bloom = filter;
    this.forEachTableHash((hi, lo) => this.bloom.add(hi, lo));
  }

  /**
   * Moves the table's keys into a run when it holds `spillKeys` or more and all were drained;
   * returns whether it did (then `runRecords` changed).
   */
  spillIfFull(): boolean {
    if (this.table.size < this.spillKeys || this.table.undrained > 0) return false;
    this.spill();
    return true;
  }

  /** Moves the table's keys (all drained) into a run, if any. */
  spill(): void {
    const table = this.table;
    if (table.size === 0) return;
    const entries = this.tableEntries();
    this.runs.push(sortIntoRun(entries, table.size, this.store));
    this.inRuns += table.size;
    table.clear();
    // Merge while the older of the newest two is at most twice the newer: sizes stay roughly
    // doubling, like a binary counter, so a lookup reads few runs.
    for (let n = this.runs.length; n >= 2 && this.runs[n - 2]!.entries <= 2 * this.runs[n - 1]!.entries; n--) {
      const older = this.runs[n - 2]!;
      const newer = this.runs[n - 1]!;
      const merged = mergeRuns(older, newer, this.store);
      this.runs.splice(n - 2, 2, merged);
      this.inRuns += merged.entries - older.entries - newer.entries;
      this.store.remove(older.data);
      this.store.remove(newer.data);
    }
  }

  private findInRuns(hi: number, lo: number): KeyOwner | undefined {
    for (const run of this.runs) {
      const owner = run.find(hi, lo, this.page);
      if (owner) return owner;
    }
    return undefined;
  }

  private filterAdd(hi: number, lo: number): void {
    this.bloom.add(hi, lo);
    // Past its planned keys a filter's "maybe" comes more often; twice the keys keeps it near 1%.
    if (this.size > this.bloom.capacity) this.rebuildFilter(this.size * 2);
  }

  private rebuildFilter(capacity: number): void {
    const filter = new BloomFilter(capacity);
    for (const run of this.runs) {
      scanRun(run, (words) => {
        for (let at = 0; at < words.length; at += WORDS) filter.add(words[at]!, words[at + 1]!);
      });
    }
    this.forEachTableHash((hi, lo) => filter.add(hi, lo));
    this.bloom = filter;
  }

  private forEachTableHash(visit: (hi: number, lo: number) => void): void {
    const entries = this.tableEntries();
    for (let at = 0; at < this.table.size * WORDS; at += WORDS) visit(entries[at]!, entries[at + 1]!);
  }

  private tableEntries(): Uint32Array {
    const wanted = this.table.size * WORDS;
    // Sized for a spill once one is near; a filter rebuilt while the table is small copies little.
    if (this.spillBuffer === undefined || this.spillBuffer.length < wanted)
      this.spillBuffer = new Uint32Array(Math.max(wanted, Math.min(2 * wanted, this.spillKeys * WORDS)));
    this.table.copyEntries(this.spillBuffer);
    return this.spillBuffer;
  }
}

/** The runs opened from their kept pages, or undefined when a run has none or they do not fit it. */
function restoreRuns(runs: readonly StoredRun[]): SortedRun[] | undefined {
  try {
    return runs.map(({ data, record, pages }) => {
      if (pages === undefined) throw new RangeError(`the sorted run ${record.name} has no pages kept`);
      return checkRecord(restoreRun(data, pages), record);
    });
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

function checkRecord(run: SortedRun, record: RunRecord): SortedRun {
  if (run.entries !== record.entries || run.crc !== record.crc) {
    throw new RangeError(`the sorted run ${record.name} does not match its record (${run.entries} entries, CRC ${run.crc})`);
  }
  return run;
}
