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
 *
 * With a {@link RunSpiller} (a worker thread: ledger/sqlite/key-run-spiller.ts), a spill at a commit
 * ({@link SpillingKeyIndex.spillWhenFull}) freezes the full table and hands it to the spiller, which
 * sorts it into a run and merges runs while a second table takes the new keys; the frozen table is
 * still searched (behind the filter, which holds its keys) until the spiller's runs replace it at a
 * later commit. Should the spiller fail, the frozen table is spilled here instead, so nothing is lost.
 */
import { BloomFilter } from './bloom-filter.js';
import { KEY_INDEX_ENTRY_BYTES, KeyIndex, type KeyOwner } from './key-index.js';
import { sortIntoRun } from './sort-into-run.js';
import { mergeNewestRuns } from './merge-newest-runs.js';
import type { RunSpiller } from './run-spiller.js';
import { openRun, restoreRun, runPage, scanRun, type RunBytes, type RunPages, type RunStore, type SortedRun } from './sorted-run.js';

/** Options of {@link SpillingKeyIndex}. */
export interface SpillingKeyIndexOptions {
  /** Where the sorted runs are kept. */
  readonly store: RunStore;
  /**
   * Keys the in-memory table holds before they are spilled into a run (when all are drained).
   * @default 262144 (an 8 MB table)
   */
  readonly spillKeys?: number;
  /** Where a spill at a commit sorts and merges ({@link SpillingKeyIndex.spillWhenFull}); default: here, at once. */
  readonly spiller?: RunSpiller;
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
/** A spill due while the spiller is still at the previous one waits for it past this many spillKeys. */
const SPILL_WAIT = 1.3;

export class SpillingKeyIndex {
  private readonly store: RunStore;
  private readonly spillKeys: number;
  private table: KeyIndex;
  /**
   * A full table being spilled by the spiller, searched until its run replaces it, and what the caller
   * said that spill covers (spillWhenFull's `covers`).
   */
  private frozen: { readonly table: KeyIndex; readonly covers: unknown } | undefined;
  /** A table emptied after its spill, for the next one to take the new keys. */
  private spare: KeyIndex | undefined;
  private spiller: RunSpiller | undefined;
  private bloom: BloomFilter;
  private runs: SortedRun[] = [];
  /** Keys held in runs. */
  private inRuns = 0;
  private readonly page = runPage();

  constructor(options: SpillingKeyIndexOptions) {
    this.store = options.store;
    this.spillKeys = options.spillKeys ?? DEFAULT_SPILL_KEYS;
    this.spiller = options.spiller;
    // Both start small and grow to what `reserve` says or the keys need (the table up to
    // spillKeys): a table sized for spillKeys up front is 8 MB whose pages a short run pays for
    // one page fault at a time, since keys land on random slots, and a filter of 320 KB is written
    // beside the ledger at its end.
    // Drained at every commit: its log copies the entries, so a drain reads none back from the table.
    this.table = this.newTable(Math.min(this.spillKeys, INITIAL_KEYS));
    this.bloom = new BloomFilter(Math.min(this.spillKeys, INITIAL_KEYS));
  }

  /** Number of distinct keys held. */
  get size(): number {
    return this.inRuns + (this.frozen?.table.size ?? 0) + this.table.size;
  }

  /** The Bloom filter over every key held (and maybe more): what a store keeps to open the runs again. */
  get filter(): BloomFilter {
    return this.bloom;
  }

  /** Bytes held in memory: the table, the filter and the runs' pages. */
  get bytes(): number {
    const tables = this.table.bytes + (this.frozen?.table.bytes ?? 0) + (this.spare?.bytes ?? 0);
    return tables + this.bloom.bytes + this.runs.reduce((sum, run) => sum + run.fenceBytes, 0);
  }

  /** The runs, oldest first, as a ledger records them (not those of a spill under way). */
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
    if ((this.runs.length > 0 || this.frozen !== undefined) && this.bloom.mayHold(hi, lo)) {
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
    if (owner || (this.runs.length === 0 && this.frozen === undefined) || !this.bloom.mayHold(hi, lo)) return owner;
    return this.findInRuns(hi, lo);
  }

  /** Calls `visit` with the seq of every key held, in no particular order (reads every run). */
  forEachSeq(visit: (seq: number) => void): void {
    this.table.forEachSeq(visit);
    this.frozen?.table.forEachSeq(visit);
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
    this.settle(true);
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
    this.settle(true);
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
    this.forEachHashOf(this.table, (hi, lo) => this.bloom.add(hi, lo));
  }

  /**
   * Moves the table's keys into a run when it holds `spillKeys` or more and all were drained, here
   * and now (after the spiller's spill under way, if any); returns whether it did (then `runRecords`
   * changed).
   */
  spillIfFull(): boolean {
    if (this.table.size < this.spillKeys || this.table.undrained > 0) return false;
    this.spill();
    return true;
  }

  /**
   * At a commit, which stored every key added so far (`covers` says what it stored, as the caller
   * wants it back): takes in the runs of a spill that finished, then starts a spill when the table
   * holds `spillKeys` or more, all drained: with a spiller, on it, while a new table takes the keys;
   * otherwise here. Returns the `covers` of the newest spill whose runs replaced its table by now
   * (then `runRecords` changed: those runs hold every key it said), or undefined.
   */
  spillWhenFull<T>(covers: T): T | undefined {
    let done = this.settle(false) as T | undefined;
    if (this.table.size < this.spillKeys || this.table.undrained > 0) return done;
    // One spill at a time. Its table is searched meanwhile, and the new one has room (a 70% load
    // limit) past spillKeys: waiting for the spiller is for a spiller slower than the run's keys.
    if (this.frozen !== undefined && this.table.size < SPILL_WAIT * this.spillKeys) return done;
    done = (this.settle(true) as T | undefined) ?? done;
    if (this.spiller === undefined) {
      this.spill();
      return covers;
    }
    this.frozen = { table: this.table, covers };
    this.table = this.spare ?? this.newTable(this.spillKeys);
    this.spare = undefined;
    this.spiller.start(this.frozen.table.slots, this.runs);
    return done;
  }

  /**
   * Takes in the runs of the spill under way once it finished (`wait`: blocks until then); returns
   * what its `spillWhenFull` covered, or undefined (no spill finished). A spiller that failed is
   * closed, and its table spilled here.
   */
  settle(wait: boolean): unknown {
    const frozen = this.frozen;
    if (frozen === undefined) return undefined;
    let runs: SortedRun[] | undefined;
    try {
      runs = this.spiller?.finished(wait);
      if (runs === undefined && this.spiller !== undefined) return undefined;
    } catch {
      // Nothing it wrote is kept (the spiller deleted it): the table is spilled here instead, and so
      // are the next ones. A cause that is not the thread's (a run damaged on disk, a full disk)
      // throws here too, as a spill here always did.
      this.spiller?.close();
      this.spiller = undefined;
    }
    if (runs === undefined) {
      this.spillHere(frozen.table);
    } else {
      // The spiller deleted the runs it wrote and merged away itself; those listed before go once
      // a manifest no longer lists them (the store's `remove`).
      const kept = new Set(runs);
      for (const run of this.runs) if (!kept.has(run)) this.store.remove(run.data);
      this.installRuns(runs);
    }
    frozen.table.clear();
    this.frozen = undefined;
    this.spare = frozen.table;
    return frozen.covers;
  }

  /** Moves the table's keys (all drained) into a run, if any, here (after a spill under way). */
  spill(): void {
    this.settle(true);
    const table = this.table;
    if (table.size === 0) return;
    this.spillHere(table);
    table.clear();
  }

  /** Stops a spill under way (nothing it wrote is kept; its table's keys stay stored in the ledger) and the spiller. */
  close(): void {
    this.spiller?.close();
    this.spiller = undefined;
  }

  /** Sorts `table`'s keys into a run after the others and merges the newest, on this thread. */
  private spillHere(table: KeyIndex): void {
    const runs = [...this.runs];
    // Straight from the table's slots (about in hash order: key-index.ts), its empty ones skipped.
    runs.push(sortIntoRun(table.slots, this.store));
    mergeNewestRuns(runs, this.store, (run) => this.store.remove(run.data));
    this.installRuns(runs);
  }

  private installRuns(runs: SortedRun[]): void {
    this.runs = runs;
    this.inRuns = runs.reduce((sum, run) => sum + run.entries, 0);
  }

  private newTable(expectedKeys: number): KeyIndex {
    // Drained at every commit: its log copies the entries, so a drain reads none back from the table.
    return new KeyIndex({ expectedKeys, logEntries: true, shared: this.spiller !== undefined });
  }

  private findInRuns(hi: number, lo: number): KeyOwner | undefined {
    // Runs are older than the frozen table (a key is in one place only).
    const frozen = this.frozen?.table.findHash(hi, lo);
    if (frozen) return frozen;
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
    this.forEachHashOf(this.table, (hi, lo) => filter.add(hi, lo));
    if (this.frozen) this.forEachHashOf(this.frozen.table, (hi, lo) => filter.add(hi, lo));
    this.bloom = filter;
  }

  private forEachHashOf(table: KeyIndex, visit: (hi: number, lo: number) => void): void {
    // Straight from the slots (a (0, 0) hash is an empty one), as a spill sorts them: no copy.
    const slots = table.slots;
    for (let at = 0; at < slots.length; at += WORDS) if ((slots[at]! | slots[at + 1]!) !== 0) visit(slots[at]!, slots[at + 1]!);
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
