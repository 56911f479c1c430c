/**
 * Remembers every record key seen so far, to fail the second occurrence of a key, in 16-byte slots
 * kept 35–70% full: 32 MB for 1M keys, 256 MB for 10M, whatever the keys' length. A `Set<string>`
 * holds the strings themselves (~1 GB for 10M keys) and cannot exceed 16,777,216 entries at all.
 * A ledger's record keys keep only their latest keys in one (spilling-key-index.ts): the older ones
 * go to sorted runs behind a Bloom filter.
 *
 * Keys themselves are never kept: each is reduced to a 64-bit hash, made of two 32-bit hashes with
 * unrelated structures over the key's UTF-16 code units (FNV-1a, finished with murmur3's avalanche,
 * and murmur3_x86_32 of the UTF-16LE bytes). Treating the pair as a random 64-bit value, the chance
 * that any two of n distinct keys share it is about n²/2⁶⁵: ≈ 2.7e-8 for 1M keys and ≈ 2.7e-6 for
 * 10M keys, so a false "duplicate" is a one-in-several-hundred-thousand event even for the largest
 * sources. The hashes are not keyed: someone who controls the keys can craft a collision on purpose.
 *
 * Entries live in one open-addressing table (linear probing, power-of-two capacity) of four
 * interleaved uint32 per slot — hash hi, hash lo, seq, line — so a probe touches one cache line.
 * A slot whose hash is (0, 0) is empty; a key that hashes to (0, 0) is stored as (0, 1).
 */
import { LedgerError } from '../errors.js';
import { DrainLog } from './drain-log.js';

/** The earlier record that holds a key, as returned by {@link KeyIndex.add}. */
export interface KeyOwner {
  /** Sequence number of the record that first had the key. */
  readonly seq: number;
  /** Its 1-based line in the source, or 0 when the source does not know lines. */
  readonly line: number;
}

/** Options of {@link KeyIndex}. */
export interface KeyIndexOptions {
  /**
   * Keys the index should hold without growing. Growing rehashes every entry into a table twice the
   * size, and each new table's memory is paid for again on first touch, so a caller that knows the
   * record count (or, on resume, the number of stored entries) saves time by saying so. At most
   * {@link KEY_INDEX_MAX_EXPECTED_KEYS}.
   * @default 0 (start with 1024 slots, 16 KB, and double as needed)
   */
  expectedKeys?: number;
  /**
   * The drain log holds a copy of each entry added (16 bytes) rather than its slot (4 bytes), so
   * that `drain()` reads no slot of the table back: one cache miss a key less in a table larger
   * than the cache, for an index drained often (spilling-key-index.ts drains at every commit).
   * @default false
   */
  logEntries?: boolean;
  /**
   * The table lives in a SharedArrayBuffer, so that another thread can read a table that no longer
   * changes (spilling-key-index.ts hands a full one to a worker that sorts it into a run).
   * @default false
   */
  shared?: boolean;
}

/** Bytes of one entry in a drained chunk: hash hi, hash lo, seq, line as little-endian uint32. */
export const KEY_INDEX_ENTRY_BYTES = 16;

const UINT32_SLOTS = 4;
const MIN_CAPACITY = 1024;
// 2^28 slots of 16 bytes is a 4 GB table; past that a typed array may not even be allocatable.
const MAX_CAPACITY = 2 ** 28;
// 0.7 keeps linear probing short (≈ 2.2 slots looked at to find a key, ≈ 6 for a new one, at the
// worst moment before growing; four slots share a cache line, so that is mostly one memory access)
// while leaving at most ~65% of the table empty right after a doubling.
const MAX_LOAD = 0.7;

/** The largest {@link KeyIndexOptions.expectedKeys}: a 2^28-slot (4 GB) table at 70% load. */
export const KEY_INDEX_MAX_EXPECTED_KEYS = Math.floor(MAX_CAPACITY * MAX_LOAD);

/** An empty index sized for about `expectedKeys` keys, within what one index holds: a ledger's `newKeys`. */
export function keyIndexFor(expectedKeys: number): KeyIndex {
  return new KeyIndex({ expectedKeys: Math.min(KEY_INDEX_MAX_EXPECTED_KEYS, Math.max(0, Math.ceil(expectedKeys))) });
}

/**
 * Set of record keys for duplicate detection over sources of tens of millions of records, with a
 * chunked persistence format so the set survives resume.
 *
 * ```ts
 * const owner = index.add(key, seq, line);
 * if (owner) fail(`duplicate key: line ${line} repeats line ${owner.line}`);
 * ledger.saveChunk(index.drain()); // at each checkpoint
 * // on resume, before reading: for (const chunk of ledger.chunks()) index.load(chunk);
 * ```
 */
export class KeyIndex {
  private table: Uint32Array;
  private mask: number;
  /** A hash's home slot is the top bits of its `hi`: `hi >>> shift` (see findSlot). */
  private shift: number;
  private count = 0;
  private growAt: number;
  /** The entries added since the last drain (drain-log.ts). */
  private readonly log: DrainLog;
  private readonly shared: boolean;

  constructor(options: KeyIndexOptions = {}) {
    const expectedKeys = options.expectedKeys ?? 0;
    if (!Number.isSafeInteger(expectedKeys) || expectedKeys < 0 || expectedKeys > KEY_INDEX_MAX_EXPECTED_KEYS) {
      throw new RangeError(
        `KeyIndex expectedKeys must be an integer from 0 to ${KEY_INDEX_MAX_EXPECTED_KEYS}, got ${String(expectedKeys)}`,
      );
    }
    this.log = new DrainLog(options.logEntries === true);
    this.shared = options.shared === true;
    const capacity = capacityFor(expectedKeys, MIN_CAPACITY);
    this.table = this.newTable(capacity);
    this.mask = capacity - 1;
    this.shift = Math.clz32(this.mask);
    this.growAt = Math.floor(capacity * MAX_LOAD);
  }

  /** Number of distinct keys held. */
  get size(): number {
    return this.count;
  }

  /** Bytes held by the table and the drain log (the whole memory cost, give or take a few objects). */
  get bytes(): number {
    return this.table.byteLength + this.log.bytes;
  }

  /**
   * Records that the record `seq` (at `line`, 0 when unknown) has `key`.
   *
   * @returns the earlier record holding the same key when that record has a different `seq` (a
   *   duplicate; nothing is inserted), otherwise `undefined`. The same `seq` adding its key again is
   *   not a duplicate: that is the record being read again after a resume.
   * @throws RangeError when `seq` or `line` is not an integer from 0 to 2^32 − 1.
   */
  add(key: string, seq: number, line: number): KeyOwner | undefined {
    this.hashKey(key);
    return this.addHash(this.hashHi, this.hashLo, seq, line);
  }

  /**
   * {@link add} for a key already hashed by {@link hashKey} (the halves it left in `hashHi` and
   * `hashLo`): what a caller that looks the hash up elsewhere first (spilling-key-index.ts) calls.
   */
  addHash(hi: number, lo: number, seq: number, line: number): KeyOwner | undefined {
    // The stores below would silently wrap such values, turning one record into another.
    if (seq >>> 0 !== seq) throw new RangeError(`KeyIndex seq must be an integer from 0 to 2^32-1, got ${seq}`);
    if (line >>> 0 !== line) throw new RangeError(`KeyIndex line must be an integer from 0 to 2^32-1, got ${line}`);

    if (this.count >= this.growAt) this.grow(this.count + 1);
    const table = this.table;
    const at = this.findSlot(hi, lo) * UINT32_SLOTS;
    if (table[at] === hi && table[at + 1] === lo) {
      const ownerSeq = table[at + 2]!;
      return ownerSeq === seq ? undefined : { seq: ownerSeq, line: table[at + 3]! };
    }
    table[at] = hi;
    table[at + 1] = lo;
    table[at + 2] = seq;
    table[at + 3] = line;
    this.count++;
    this.log.add(at / UINT32_SLOTS, hi, lo, seq, line);
    return undefined;
  }

  /** The record that holds the hash (hi, lo) (see {@link hashKey}), or undefined. */
  findHash(hi: number, lo: number): KeyOwner | undefined {
    const at = this.findSlot(hi, lo) * UINT32_SLOTS;
    const table = this.table;
    if (table[at] !== hi || table[at + 1] !== lo) return undefined;
    return { seq: table[at + 2]!, line: table[at + 3]! };
  }

  /**
   * The table itself: four uint32 a slot (hash hi, hash lo, seq, line), a slot whose hash is (0, 0)
   * empty. For a thread that reads a table no longer added to (a SharedArrayBuffer with `shared`).
   */
  get slots(): Uint32Array {
    return this.table;
  }

  /** Entries added but not yet drained. */
  get undrained(): number {
    return this.log.length;
  }

  /**
   * Forgets every entry but keeps the table's memory (already paid for in page faults), for the next
   * keys. Only once every added entry has been drained.
   */
  clear(): void {
    if (this.log.length !== 0) throw new Error('KeyIndex.clear with entries not drained');
    this.table.fill(0);
    this.count = 0;
  }

  /**
   * The entries added since the previous drain (or since construction), serialised as
   * {@link KEY_INDEX_ENTRY_BYTES} bytes each, in insertion order; empty when there are none. Entries
   * inserted by {@link load} are not included: they are already stored.
   */
  drain(): Uint8Array {
    return this.log.drain(this.table);
  }

  /**
   * Re-inserts the entries of a chunk returned by {@link drain} (typically read back from the ledger
   * on resume). An entry whose key is already held is skipped, whatever its seq: the first one loaded
   * stays the owner. Loaded entries are not returned by the next drain.
   *
   * @throws LedgerError (`LEDGER_UNUSABLE`) when the chunk's length is not a whole number of entries.
   */
  load(chunk: Uint8Array): void {
    if (chunk.byteLength % KEY_INDEX_ENTRY_BYTES !== 0) {
      throw new LedgerError(
        'LEDGER_UNUSABLE',
        `key index chunk has ${chunk.byteLength} bytes, which is not a multiple of ${KEY_INDEX_ENTRY_BYTES}: ` +
          'the ledger is damaged or was written by an incompatible version; start the job with a new ledger',
      );
    }
    // One rehash to the final size rather than a doubling at a time (entries already held are
    // counted twice here, which can only make the table one size larger than strictly needed).
    const entries = chunk.byteLength / KEY_INDEX_ENTRY_BYTES;
    if (this.count + entries > this.growAt) this.grow(this.count + entries);
    const table = this.table;
    // A DataView because a Buffer read from SQLite may sit at any byte offset of its pool.
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let offset = 0; offset < chunk.byteLength; offset += KEY_INDEX_ENTRY_BYTES) {
      const hi = view.getUint32(offset, true);
      let lo = view.getUint32(offset + 4, true);
      if ((hi | lo) === 0) lo = 1; // cannot come from drain(); keep the empty-slot marker free
      const at = this.findSlot(hi, lo) * UINT32_SLOTS;
      if (table[at] === hi && table[at + 1] === lo) continue;
      table[at] = hi;
      table[at + 1] = lo;
      table[at + 2] = view.getUint32(offset + 8, true);
      table[at + 3] = view.getUint32(offset + 12, true);
      this.count++;
    }
  }

  /** The two halves of the last key hashed by {@link hashKey}. */
  hashHi = 0;
  hashLo = 0;

  /**
   * Makes room for `keys` keys at once (one rehash instead of a doubling at a time), e.g. once the
   * size of the source can be estimated. Never shrinks.
   */
  reserve(keys: number): void {
    const wanted = Math.min(KEY_INDEX_MAX_EXPECTED_KEYS, Math.ceil(keys));
    if (wanted > this.growAt) this.grow(wanted);
  }

  /** Calls `visit` with the seq of every key held, in no particular order. */
  forEachSeq(visit: (seq: number) => void): void {
    const table = this.table;
    for (let at = 0; at < table.length; at += UINT32_SLOTS) if ((table[at]! | table[at + 1]!) !== 0) visit(table[at + 2]!);
  }

  /** The record that holds `key`, or undefined when no record read so far has it. */
  find(key: string): KeyOwner | undefined {
    this.hashKey(key);
    return this.findHash(this.hashHi, this.hashLo);
  }

  /** Hashes `key` into {@link hashHi} and {@link hashLo} (fields, so that hashing allocates nothing). */
  hashKey(key: string): void {
    // Both hashes in one pass, two code units per step: the pair is one 4-byte murmur3 block of the
    // UTF-16LE encoding, and two FNV-1a steps of one code unit each. Inlined because returning two
    // numbers from a helper would allocate, and this loop is most of the cost of add().
    const length = key.length;
    let fnv = 0x811c9dc5;
    let mur = 0x9747b28c;
    let i = 0;
    for (; i + 1 < length; i += 2) {
      const c0 = key.charCodeAt(i);
      const c1 = key.charCodeAt(i + 1);
      fnv = Math.imul(fnv ^ c0, 0x01000193);
      fnv = Math.imul(fnv ^ c1, 0x01000193);
      let k = Math.imul(c0 | (c1 << 16), 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      mur ^= k;
      mur = (mur << 13) | (mur >>> 19);
      mur = (Math.imul(mur, 5) + 0xe6546b64) | 0;
    }
    if (i < length) {
      const c0 = key.charCodeAt(i);
      fnv = Math.imul(fnv ^ c0, 0x01000193);
      const k = Math.imul(c0, 0xcc9e2d51);
      mur ^= Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    }
    // Per-code-unit FNV-1a mixes only upwards; the avalanche makes its low bits usable too.
    const hi = fmix32(fnv);
    let lo = fmix32(mur ^ (length * 2));
    if ((hi | lo) === 0) lo = 1;
    this.hashHi = hi;
    this.hashLo = lo;
  }

  /** The slot holding hash (hi, lo), or the empty slot where it belongs. */
  private findSlot(hi: number, lo: number): number {
    const table = this.table;
    const mask = this.mask;
    // The top bits of hi (fully avalanched, like lo) spread keys evenly over the slots and keep
    // the table roughly in hash order: a spill (sort-into-run.ts) then moves entries to nearby
    // places instead of scattering them over the whole run, which missed the cache at each entry.
    let slot = hi >>> this.shift;
    for (;;) {
      const at = slot * UINT32_SLOTS;
      const slotHi = table[at]!;
      const slotLo = table[at + 1]!;
      if ((slotHi === hi && slotLo === lo) || (slotHi | slotLo) === 0) return slot;
      slot = (slot + 1) & mask;
    }
  }

  /**
   * Moves every entry into a table (at least twice as large) that holds `keys` below the load limit,
   * and points the drain log at the moved entries.
   */
  private grow(keys: number): void {
    const old = this.table;
    const oldCapacity = this.mask + 1;
    const capacity = capacityFor(keys, oldCapacity * 2);
    if (capacity > MAX_CAPACITY) {
      throw new RangeError(`KeyIndex cannot hold more than ${KEY_INDEX_MAX_EXPECTED_KEYS} keys (asked to hold ${keys})`);
    }
    const mask = capacity - 1;
    const shift = Math.clz32(mask);
    const table = this.newTable(capacity);
    for (let oldSlot = 0; oldSlot < oldCapacity; oldSlot++) {
      const from = oldSlot * UINT32_SLOTS;
      const hi = old[from]!;
      const lo = old[from + 1]!;
      if ((hi | lo) === 0) continue;
      let slot = hi >>> shift;
      while ((table[slot * UINT32_SLOTS]! | table[slot * UINT32_SLOTS + 1]!) !== 0) slot = (slot + 1) & mask;
      const to = slot * UINT32_SLOTS;
      table[to] = hi;
      table[to + 1] = lo;
      table[to + 2] = old[from + 2]!;
      table[to + 3] = old[from + 3]!;
      // The old table is dropped below, so its line field can carry the new slot for the log rewrite.
      old[from + 3] = slot;
    }
    this.log.moved((slot) => old[slot * UINT32_SLOTS + 3]!);
    this.table = table;
    this.mask = mask;
    this.shift = shift;
    this.growAt = Math.floor(capacity * MAX_LOAD);
  }

  private newTable(capacity: number): Uint32Array {
    const words = capacity * UINT32_SLOTS;
    return this.shared ? new Uint32Array(new SharedArrayBuffer(words * 4)) : new Uint32Array(words);
  }
}

/** The smallest power of two, at least `minimum`, whose load limit admits `keys`. */
function capacityFor(keys: number, minimum: number): number {
  let capacity = minimum;
  while (Math.floor(capacity * MAX_LOAD) < keys) capacity *= 2;
  return capacity;
}

/** murmur3's finaliser: every input bit flips each output bit with probability ~1/2. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
