/**
 * Sorted runs of the key index's 16-byte entries (hash hi, hash lo, seq, line as little-endian
 * uint32, the layout of the key file), ordered by hash, held where a `RunStore` keeps them: files
 * beside the ledger (ledger/sqlite/key-runs.ts) or memory (memory-run-store.ts). Only the first hash
 * of every 4 KB page and the page's CRC-32 stay in memory (12 bytes a 256 entries: the run's
 * `RunPages`), so finding a hash costs one binary search in memory and one 4 KB read.
 *
 * Every page read is checked against its CRC, so a run written earlier can be opened from its pages
 * alone (a resume reads 12 bytes a page instead of the whole run) and a damaged page is still never
 * believed: reading it throws (`RunBytes.damaged`).
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
/** Entries read or written at once when a run is scanned, merged or built (1 MB, whole pages). */
const BLOCK_ENTRIES = 65_536;

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // The entries are read through Uint32Array views, which use the platform's byte order.
  throw new Error('batchguard needs a little-endian platform');
}

// Blocks reused by builds, merges and scans: a fresh buffer pays its page
// faults again (~98 µs a 4 KB page on the benchmark host) and its external memory pushes V8 towards
// a full collection. At most three blocks are in use at once (a merge: two cursors and a builder).
const spareBlocks: Uint32Array[] = [];

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
  /**
   * The error to throw when a page read does not match its CRC (`what` says how); a store may also
   * forget the run there, so that the next open builds it again. Default: a RangeError.
   */
  damaged?(what: string): Error;
}

/** What locates a hash in a run without reading it: kept in memory, and by a store beside the run. */
export interface RunPages {
  readonly entries: number;
  /** The hash (hi, lo) of each page's first entry. */
  readonly fences: Uint32Array;
  /** CRC-32 of each page's bytes. */
  readonly pageCrcs: Uint32Array;
  /** The run's CRC: CRC-32 of its page CRCs (little-endian), see {@link pagesCrc}. */
  readonly crc: number;
}

/** A run being written. */
export interface RunSink {
  append(bytes: Uint8Array): void;
  /** The run is whole: `pages` is what it holds (a store of files keeps them beside it). */
  finish(pages: RunPages): RunBytes;
}

/** Where runs live. */
export interface RunStore {
  create(): RunSink;
  /** Deletes a run that is no longer used. */
  remove(run: RunBytes): void;
}

/** A run's CRC, from its page CRCs: any changed byte changes its page's CRC, and so this one. */
export function pagesCrc(pageCrcs: Uint32Array): number {
  return crc32(new Uint8Array(pageCrcs.buffer, pageCrcs.byteOffset, pageCrcs.byteLength));
}

/** One sorted run and the pages that locate a hash in it. */
export class SortedRun {
  constructor(
    readonly data: RunBytes,
    readonly pages: RunPages,
  ) {}

  get entries(): number {
    return this.pages.entries;
  }

  get crc(): number {
    return this.pages.crc;
  }

  /** Bytes held in memory. */
  get fenceBytes(): number {
    return this.pages.fences.byteLength + this.pages.pageCrcs.byteLength;
  }

  /** The entry of hash (hi, lo), or undefined; `page` is scratch space of one page. */
  find(hi: number, lo: number, page: Uint32Array): KeyOwner | undefined {
    const fences = this.pages.fences;
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
    checkRunPages(this.data, this.pages.pageCrcs, low, bytes);
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
export function compare(hi1: number, lo1: number, hi2: number, lo2: number): number {
  return hi1 !== hi2 ? hi1 - hi2 : lo1 - lo2;
}

function readFully(data: RunBytes, offset: number, into: Uint8Array): void {
  let done = 0;
  while (done < into.byteLength) {
    const n = data.read(offset + done, into.subarray(done));
    if (n === 0) throw damagedRun(data, `ends at ${offset + done} bytes, before its ${data.bytes}`);
    done += n;
  }
}

function damagedRun(data: RunBytes, what: string): Error {
  return data.damaged?.(what) ?? new RangeError(`the sorted run ${data.name} ${what}`);
}

/** Checks `bytes`, read from the start of page `first` on, against the pages' CRCs. */
function checkRunPages(data: RunBytes, pageCrcs: Uint32Array, first: number, bytes: Uint8Array): void {
  for (let at = 0, page = first; at < bytes.byteLength; at += PAGE_BYTES, page++) {
    if (crc32(bytes.subarray(at, at + PAGE_BYTES)) !== pageCrcs[page]) {
      throw damagedRun(data, `has a damaged page (page ${page} does not match its CRC-32)`);
    }
  }
}

/** Collects a run's pages as its entries go by in order (a build, or a scan of a run written earlier). */
class PageCollector {
  private readonly fences: number[] = [];
  private readonly pageCrcs: number[] = [];
  count = 0;

  /** Takes whole pages (the last one may be short), `words` holding four uint32 an entry. */
  addBlock(words: Uint32Array): void {
    const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    for (let at = 0; at < words.length; at += RUN_PAGE_ENTRIES * WORDS) {
      this.fences.push(words[at]!, words[at + 1]!);
      this.pageCrcs.push(crc32(bytes.subarray(at * 4, (at + RUN_PAGE_ENTRIES * WORDS) * 4)));
    }
    this.count += words.length / WORDS;
  }

  pages(): RunPages {
    const pageCrcs = Uint32Array.from(this.pageCrcs);
    return { entries: this.count, fences: Uint32Array.from(this.fences), pageCrcs, crc: pagesCrc(pageCrcs) };
  }
}

/**
 * Writes entries given in hash order into a new run; of entries with the same hash only the first
 * is kept (the key's first owner, as when chunks are loaded into a KeyIndex).
 */
export class RunBuilder {
  private readonly block = takeBlock();
  private inBlock = 0;
  private readonly collected = new PageCollector();
  private any = false;
  private lastHi = 0;
  private lastLo = 0;
  private readonly sink: RunSink;

  constructor(store: RunStore) {
    this.sink = store.create();
  }

  push(hi: number, lo: number, seq: number, line: number): void {
    if (this.any && hi === this.lastHi && lo === this.lastLo) return;
    const at = this.inBlock * WORDS;
    const block = this.block;
    block[at] = hi;
    block[at + 1] = lo;
    block[at + 2] = seq;
    block[at + 3] = line;
    this.lastHi = hi;
    this.lastLo = lo;
    this.any = true;
    if (++this.inBlock === BLOCK_ENTRIES) this.flush();
  }

  finish(): SortedRun {
    this.flush();
    giveBlock(this.block);
    const pages = this.collected.pages();
    return new SortedRun(this.sink.finish(pages), pages);
  }

  private flush(): void {
    if (this.inBlock === 0) return;
    const words = this.block.subarray(0, this.inBlock * WORDS);
    this.collected.addBlock(words);
    this.sink.append(new Uint8Array(words.buffer, 0, words.byteLength));
    this.inBlock = 0;
  }
}

/** Reads a run front to back, a block at a time, checking each page against `pageCrcs` when given. */
class RunCursor {
  private words = takeBlock();
  private inBlock = 0;
  private index = 0;
  private read = 0;

  constructor(
    private readonly data: RunBytes,
    private readonly pageCrcs: Uint32Array | undefined,
  ) {
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

  /**
   * Pushes entries to `to` while their hash is below (hi, lo), or equal to it with `orEqual`: a
   * merge's inner loop, over the block's words without a getter or a compare call an entry.
   */
  pushWhile(hi: number, lo: number, orEqual: boolean, to: RunBuilder): void {
    while (!this.done) {
      const words = this.words;
      const end = this.inBlock;
      let i = this.index;
      for (; i < end; i++) {
        const at = i * WORDS;
        const h = words[at]!;
        const l = words[at + 1]!;
        if (h > hi || (h === hi && (l > lo || (l === lo && !orEqual)))) break;
        to.push(h, l, words[at + 2]!, words[at + 3]!);
      }
      if (i < end) {
        this.index = i;
        return;
      }
      this.skip(end - this.index);
    }
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
    const into = new Uint8Array(this.words.buffer, 0, bytes);
    readFully(this.data, this.read, into);
    if (this.pageCrcs) checkRunPages(this.data, this.pageCrcs, this.read / PAGE_BYTES, into);
    this.read += bytes;
    this.inBlock = bytes / RUN_ENTRY_BYTES;
  }
}

/** Calls `visit` with each block of a run's entries (four uint32 each) in order, every page checked. */
export function scanRun(run: SortedRun, visit: (words: Uint32Array) => void): void {
  scanBytes(run.data, run.pages.pageCrcs, visit);
}

function scanBytes(data: RunBytes, pageCrcs: Uint32Array | undefined, visit: (words: Uint32Array) => void): void {
  const cursor = new RunCursor(data, pageCrcs);
  while (!cursor.done) {
    const block = cursor.rest();
    visit(block);
    cursor.skip(block.length / WORDS);
  }
}

/**
 * Opens a run that is already written, without its pages: reads it once for them, adding each hash
 * to `filter` in the same pass (no call a entry but the filter's).
 * @throws RangeError when its entries are out of order or it has a partial entry.
 */
export function openRun(data: RunBytes, filter: BloomFilter | undefined): SortedRun {
  if (data.bytes % RUN_ENTRY_BYTES !== 0) throw new RangeError(`the sorted run ${data.name} has a partial entry`);
  const collected = new PageCollector();
  let lastHi = 0;
  let lastLo = 0;
  scanBytes(data, undefined, (words) => {
    for (let at = 0; at < words.length; at += WORDS) {
      const hi = words[at]!;
      const lo = words[at + 1]!;
      if (hi < lastHi || (hi === lastHi && lo <= lastLo && (at > 0 || collected.count > 0))) {
        throw new RangeError(`the sorted run ${data.name} is out of order`);
      }
      filter?.add(hi, lo);
      lastHi = hi;
      lastLo = lo;
    }
    collected.addBlock(words);
  });
  return new SortedRun(data, collected.pages());
}

/**
 * Opens a run that is already written from its pages, kept beside it, without reading it: each
 * page is checked when it is read.
 * @throws RangeError when the pages cannot belong to a run of `data.bytes` (then open it with {@link openRun}).
 */
export function restoreRun(data: RunBytes, pages: RunPages): SortedRun {
  const count = Math.ceil(pages.entries / RUN_PAGE_ENTRIES);
  if (
    data.bytes !== pages.entries * RUN_ENTRY_BYTES ||
    pages.pageCrcs.length !== count ||
    pages.fences.length !== count * 2 ||
    pagesCrc(pages.pageCrcs) !== pages.crc
  ) {
    throw new RangeError(`the pages of the sorted run ${data.name} do not match it`);
  }
  return new SortedRun(data, pages);
}

/** One run of the entries of `older` and `newer`; on a hash both hold, `older`'s entry is kept. */
export function mergeRuns(older: SortedRun, newer: SortedRun, store: RunStore): SortedRun {
  const builder = new RunBuilder(store);
  const a = new RunCursor(older.data, older.pages.pageCrcs);
  const b = new RunCursor(newer.data, newer.pages.pageCrcs);
  while (!a.done && !b.done) {
    // The older run's entries up to the newer one's next hash (an equal hash: the older first),
    // then the newer run's below the older one's next.
    a.pushWhile(b.hi, b.lo, true, builder);
    if (!a.done) b.pushWhile(a.hi, a.lo, false, builder);
  }
  for (const rest of [a, b]) while (!rest.done) rest.push(builder);
  return builder.finish();
}
