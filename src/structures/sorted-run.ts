/**
 * Sorted runs of the key index's 16-byte entries (hash hi, hash lo, seq, line as little-endian
 * uint32, the layout of the key file), ordered by hash, held where a `RunStore` keeps them: files
 * beside the ledger (ledger/key-run-files.ts) or memory. Only the first hash of every 4 KB page stays
 * in memory (its fence, 8 bytes a 256 entries), so finding a hash costs one binary search in memory
 * and one 4 KB read.
 */
import { crc32 } from 'node:zlib';
import type { BloomFilter } from './bloom-filter.js';
import type { KeyOwner } from './key-index.js';

/** Bytes of one entry. */
export const RUN_ENTRY_BYTES = 16;
const WORDS = 4;
/** Entries a page: the unit read to find one hash. */
export const RUN_PAGE_ENTRIES = 256;
const PAGE_BYTES = RUN_PAGE_ENTRIES * RUN_ENTRY_BYTES;
/** Entries read or written at once when a run is scanned, merged or built (1 MB). */
const BLOCK_ENTRIES = 65_536;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // The entries are read through Uint32Array views, which use the platform's byte order.
  throw new Error('batchguard needs a little-endian platform');
}

// Blocks reused by builds, merges and scans, and the sort's buffers: a fresh buffer pays its page
// faults again (~98 µs a 4 KB page on the benchmark host) and its external memory pushes V8 towards
// a full collection. At most three blocks are in use at once (a merge: two cursors and a builder).
const spareBlocks: Uint32Array[] = [];
let sortScratch = new Uint32Array(0);
const sortBuckets = new Uint32Array(65_537);

function takeBlock(): Uint32Array {
  return spareBlocks.pop() ?? new Uint32Array(BLOCK_ENTRIES * WORDS);
}

function giveBlock(block: Uint32Array): void {
  if (spareBlocks.length < 3 && block.length === BLOCK_ENTRIES * WORDS) spareBlocks.push(block);
}

/** A run's bytes, written once and then only read. */
export interface RunBytes {
  /** Its name in its store (a file name, for a store of files). */
  readonly name: string;
  readonly bytes: number;
  /** Reads up to `into.byteLength` bytes at `offset`; returns how many were read. */
  read(offset: number, into: Uint8Array): number;
}

/** A run being written. */
export interface RunSink {
  append(bytes: Uint8Array): void;
  finish(): RunBytes;
}

/** Where runs live. */
export interface RunStore {
  create(): RunSink;
  /** Deletes a run that is no longer used. */
  remove(run: RunBytes): void;
}

/** One sorted run and the fences that locate a hash's page in it. */
export class SortedRun {
  constructor(
    readonly data: RunBytes,
    readonly entries: number,
    /** The hash (hi, lo) of each page's first entry. */
    private readonly fences: Uint32Array,
    /** CRC-32 of the run's bytes. */
    readonly crc: number,
  ) {}

  /** Bytes held in memory. */
  get fenceBytes(): number {
    return this.fences.byteLength;
  }

  /** The entry of hash (hi, lo), or undefined; `page` is scratch space of one page. */
  find(hi: number, lo: number, page: Uint32Array): KeyOwner | undefined {
    const fences = this.fences;
    // The last page whose first hash is ≤ (hi, lo).
    let low = 0;
    let high = fences.length / 2 - 1;
    if (high < 0 || compare(hi, lo, fences[0]!, fences[1]!) < 0) return undefined;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (compare(hi, lo, fences[mid * 2]!, fences[mid * 2 + 1]!) >= 0) low = mid;
      else high = mid - 1;
    }
    const count = Math.min(RUN_PAGE_ENTRIES, this.entries - low * RUN_PAGE_ENTRIES);
    const bytes = new Uint8Array(page.buffer, page.byteOffset, count * RUN_ENTRY_BYTES);
    readFully(this.data, low * PAGE_BYTES, bytes);
    let first = 0;
    let last = count - 1;
    while (first <= last) {
      const mid = (first + last) >>> 1;
      const order = compare(hi, lo, page[mid * WORDS]!, page[mid * WORDS + 1]!);
      if (order === 0) return { seq: page[mid * WORDS + 2]!, line: page[mid * WORDS + 3]! };
      if (order < 0) last = mid - 1;
      else first = mid + 1;
    }
    return undefined;
  }
}

/** Scratch space for {@link SortedRun.find}. */
export function runPage(): Uint32Array {
  return new Uint32Array(RUN_PAGE_ENTRIES * WORDS);
}

/** Order of two hashes (hi then lo, both unsigned): negative, 0 or positive. */
function compare(hi1: number, lo1: number, hi2: number, lo2: number): number {
  return hi1 !== hi2 ? hi1 - hi2 : lo1 - lo2;
}

function readFully(data: RunBytes, offset: number, into: Uint8Array): void {
  let done = 0;
  while (done < into.byteLength) {
    const n = data.read(offset + done, into.subarray(done));
    if (n === 0) throw new RangeError(`the sorted run ${data.name} ends at ${offset + done} bytes, before its ${data.bytes}`);
    done += n;
  }
}

/**
 * Writes entries given in hash order into a new run; of entries with the same hash only the first
 * is kept (the key's first owner, as when chunks are loaded into a KeyIndex).
 */
export class RunBuilder {
  private readonly block = takeBlock();
  private inBlock = 0;
  private count = 0;
  private crc = 0;
  private readonly fences: number[] = [];
  private lastHi = 0;
  private lastLo = 0;
  private readonly sink: RunSink;

  constructor(store: RunStore) {
    this.sink = store.create();
  }

  push(hi: number, lo: number, seq: number, line: number): void {
    if (this.count > 0 && hi === this.lastHi && lo === this.lastLo) return;
    if (this.count % RUN_PAGE_ENTRIES === 0) this.fences.push(hi, lo);
    const at = this.inBlock * WORDS;
    const block = this.block;
    block[at] = hi;
    block[at + 1] = lo;
    block[at + 2] = seq;
    block[at + 3] = line;
    this.lastHi = hi;
    this.lastLo = lo;
    this.count++;
    if (++this.inBlock === BLOCK_ENTRIES) this.flush();
  }

  finish(): SortedRun {
    this.flush();
    giveBlock(this.block);
    return new SortedRun(this.sink.finish(), this.count, Uint32Array.from(this.fences), this.crc);
  }

  private flush(): void {
    if (this.inBlock === 0) return;
    const bytes = new Uint8Array(this.block.buffer, 0, this.inBlock * RUN_ENTRY_BYTES);
    this.crc = crc32(bytes, this.crc);
    this.sink.append(bytes);
    this.inBlock = 0;
  }
}

/** Reads a run front to back, a block at a time. */
class RunCursor {
  private words = takeBlock();
  private inBlock = 0;
  private index = 0;
  private read = 0;

  constructor(private readonly data: RunBytes) {
    this.fill();
  }

  get done(): boolean {
    return this.index >= this.inBlock;
  }

  get hi(): number {
    return this.words[this.index * WORDS]!;
  }

  get lo(): number {
    return this.words[this.index * WORDS + 1]!;
  }

  /** The entries of the current block from the current one on, as four uint32 each. */
  rest(): Uint32Array {
    return this.words.subarray(this.index * WORDS, this.inBlock * WORDS);
  }

  /** Moves `count` entries on (within the block), then to the next block if it is used up. */
  skip(count: number): void {
    this.index += count;
    if (this.index >= this.inBlock) this.fill();
  }

  push(to: RunBuilder): void {
    const at = this.index * WORDS;
    const words = this.words;
    to.push(words[at]!, words[at + 1]!, words[at + 2]!, words[at + 3]!);
    this.skip(1);
  }

  private fill(): void {
    const bytes = Math.min(BLOCK_ENTRIES * RUN_ENTRY_BYTES, this.data.bytes - this.read);
    this.index = 0;
    this.inBlock = 0;
    if (bytes <= 0) {
      giveBlock(this.words);
      this.words = new Uint32Array(0);
      return;
    }
    readFully(this.data, this.read, new Uint8Array(this.words.buffer, 0, bytes));
    this.read += bytes;
    this.inBlock = bytes / RUN_ENTRY_BYTES;
  }
}

/** Calls `visit` with each block of a run's entries (four uint32 each) in order. */
export function scanRun(data: RunBytes, visit: (words: Uint32Array) => void): void {
  const cursor = new RunCursor(data);
  while (!cursor.done) {
    const block = cursor.rest();
    visit(block);
    cursor.skip(block.length / WORDS);
  }
}

/**
 * Opens a run that is already written: reads it once for its fences and CRC, adding each hash to
 * `filter` in the same pass (this loop is most of a resume's time: no call a entry but the filter's).
 * @throws RangeError when its entries are out of order or it has a partial entry.
 */
export function openRun(data: RunBytes, filter: BloomFilter | undefined): SortedRun {
  if (data.bytes % RUN_ENTRY_BYTES !== 0) throw new RangeError(`the sorted run ${data.name} has a partial entry`);
  const fences: number[] = [];
  let crc = 0;
  let count = 0;
  let lastHi = 0;
  let lastLo = 0;
  scanRun(data, (words) => {
    crc = crc32(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), crc);
    for (let at = 0; at < words.length; at += WORDS) {
      const hi = words[at]!;
      const lo = words[at + 1]!;
      if (hi < lastHi || (hi === lastHi && lo <= lastLo && count > 0)) throw new RangeError(`the sorted run ${data.name} is out of order`);
      if (count % RUN_PAGE_ENTRIES === 0) fences.push(hi, lo);
      filter?.add(hi, lo);
      lastHi = hi;
      lastLo = lo;
      count++;
    }
  });
  return new SortedRun(data, count, Uint32Array.from(fences), crc);
}

/** One run of the entries of `older` and `newer`; on a hash both hold, `older`'s entry is kept. */
export function mergeRuns(older: SortedRun, newer: SortedRun, store: RunStore): SortedRun {
  const builder = new RunBuilder(store);
  const a = new RunCursor(older.data);
  const b = new RunCursor(newer.data);
  while (!a.done && !b.done) {
    if (compare(a.hi, a.lo, b.hi, b.lo) <= 0) a.push(builder);
    else b.push(builder);
  }
  for (const rest of [a, b]) while (!rest.done) rest.push(builder);
  return builder.finish();
}

/**
 * Sorts `count` entries of `from` (four uint32 each) by hash into a new run. A counting pass over the
 * top 16 bits of `hi`, then insertion sort within each bucket: the hashes are uniform, so buckets
 * hold a few entries each and the whole is linear.
 */
export function sortIntoRun(from: Uint32Array, count: number, store: RunStore): SortedRun {
  const buckets = sortBuckets.fill(0);
  for (let i = 0; i < count; i++) buckets[(from[i * WORDS]! >>> 16) + 1]!++;
  for (let b = 1; b < buckets.length; b++) buckets[b] = buckets[b]! + buckets[b - 1]!;
  if (sortScratch.length < count * WORDS) sortScratch = new Uint32Array(count * WORDS);
  const sorted = sortScratch;
  const next = buckets.slice(0, 65_536);
  for (let i = 0; i < count; i++) {
    // Four stores, not set(subarray()): a subarray is an object a entry, and the collector's work.
    const at = i * WORDS;
    const to = next[from[at]! >>> 16]!++ * WORDS;
    sorted[to] = from[at]!;
    sorted[to + 1] = from[at + 1]!;
    sorted[to + 2] = from[at + 2]!;
    sorted[to + 3] = from[at + 3]!;
  }
  for (let b = 0; b < 65_536; b++) insertionSort(sorted, buckets[b]!, buckets[b + 1]!);
  const builder = new RunBuilder(store);
  for (let at = 0; at < count * WORDS; at += WORDS) builder.push(sorted[at]!, sorted[at + 1]!, sorted[at + 2]!, sorted[at + 3]!);
  return builder.finish();
}

function insertionSort(words: Uint32Array, first: number, end: number): void {
  for (let i = first + 1; i < end; i++) {
    const hi = words[i * WORDS]!;
    const lo = words[i * WORDS + 1]!;
    const seq = words[i * WORDS + 2]!;
    const line = words[i * WORDS + 3]!;
    let j = i - 1;
    // Strictly greater: entries of equal hash keep their order, so the first owner stays first.
    while (j >= first && compare(words[j * WORDS]!, words[j * WORDS + 1]!, hi, lo) > 0) {
      words.copyWithin((j + 1) * WORDS, j * WORDS, j * WORDS + WORDS);
      j--;
    }
    words[(j + 1) * WORDS] = hi;
    words[(j + 1) * WORDS + 1] = lo;
    words[(j + 1) * WORDS + 2] = seq;
    words[(j + 1) * WORDS + 3] = line;
  }
}

/** A store of runs in memory (the memory ledger's, and tests'). */
export class MemoryRunStore implements RunStore {
  private made = 0;
  /** Names of the runs not removed. */
  readonly live = new Set<string>();

  create(): RunSink {
    const chunks: Uint8Array[] = [];
    const name = `run-${++this.made}`;
    return {
      append: (bytes) => chunks.push(bytes.slice()),
      finish: () => {
        const data = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
        let at = 0;
        for (const chunk of chunks) {
          data.set(chunk, at);
          at += chunk.byteLength;
        }
        this.live.add(name);
        return memoryRun(name, data);
      },
    };
  }

  remove(run: RunBytes): void {
    this.live.delete(run.name);
  }
}

/** Run bytes held in memory. */
export function memoryRun(name: string, data: Uint8Array): RunBytes {
  return {
    name,
    bytes: data.byteLength,
    read(offset, into) {
      const part = data.subarray(offset, offset + into.byteLength);
      into.set(part);
      return part.byteLength;
    },
  };
}
