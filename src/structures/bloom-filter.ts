/**
 * A Bloom filter over the key index's 64-bit key hashes (structures/key-index.ts): "certainly not
 * held" for most keys never seen, "maybe" for the rest. Split-block layout: a key sets one bit in
 * each of the eight 32-bit words of one 32-byte block, so a test or an add touches one cache line
 * (a classic filter's k bits are k cache misses). At 10 bits a key a "maybe" for a key never seen
 * comes ~1% of the time (bloom-filter.test.ts measures it).
 *
 * The hash halves are already avalanched (murmur3's finaliser), so no hashing happens here: `hi`
 * picks the block, `lo` the bit in each word.
 */

/** Bits a key at the planned capacity: 1.25 bytes a key, ~1% of keys never seen say "maybe". */
export const BLOOM_BITS_PER_KEY = 10;

const WORDS_PER_BLOCK = 8;
// Odd multipliers, one a word: each spreads `lo` differently over the word's 32 bits (the top five
// bits of the product pick the bit).
const SALTS = [0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31];

export class BloomFilter {
  /** Its bits, 32 a word: what a store keeps of it, with `capacity`. */
  readonly words: Uint32Array;
  private readonly blocks: number;

  /**
   * A filter planned for `capacity` keys (at least one block), empty or with the bits `words` that
   * a filter of the same capacity gave (taken, not copied).
   */
  constructor(
    readonly capacity: number,
    words?: Uint32Array,
  ) {
    this.blocks = BloomFilter.blocksFor(capacity);
    if (words !== undefined && words.length !== this.blocks * WORDS_PER_BLOCK) {
      throw new RangeError(`a Bloom filter of ${capacity} keys has ${this.blocks * WORDS_PER_BLOCK} words, not ${words.length}`);
    }
    this.words = words ?? new Uint32Array(this.blocks * WORDS_PER_BLOCK);
  }

  /** Words of a filter planned for `capacity` keys. */
  static wordsFor(capacity: number): number {
    return BloomFilter.blocksFor(capacity) * WORDS_PER_BLOCK;
  }

  private static blocksFor(capacity: number): number {
    return Math.max(1, Math.ceil((capacity * BLOOM_BITS_PER_KEY) / (WORDS_PER_BLOCK * 32)));
  }

  /** Bytes held. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /**
   * Adds the hashes of the key index's 16-byte entries (hash hi, hash lo, seq, line as little-endian
   * uint32: the key file's layout) in `chunk`: a resume's catch-up over the key file, so the salts
   * are written out (twice as fast as a call of `add` an entry).
   */
  addEntries(chunk: Uint8Array): void {
    const count = chunk.byteLength >>> 4;
    // A copy when unaligned (a Buffer's slice() is a view, hence the constructor).
    const aligned = chunk.byteOffset % 4 === 0 ? chunk : new Uint8Array(chunk.subarray(0, count * 16));
    const entries = new Uint32Array(aligned.buffer, aligned.byteOffset, count * 4);
    const words = this.words;
    const blocks = this.blocks;
    // The salts of `add`, one a word, unrolled: this loop takes a resume's millions of entries.
    const [s0, s1, s2, s3, s4, s5, s6, s7] = SALTS as unknown as readonly [number, number, number, number, number, number, number, number];
    for (let at = 0; at < count * 4; at += 4) {
      const hi = entries[at]!;
      // A key hashing to (0, 0) is stored as (0, 1) (key-index.ts).
      const lo = hi === 0 && entries[at + 1] === 0 ? 1 : entries[at + 1]!;
      const base = Math.floor((hi * blocks) / 4294967296) * WORDS_PER_BLOCK;
      words[base] = words[base]! | (1 << (Math.imul(lo, s0) >>> 27));
      words[base + 1] = words[base + 1]! | (1 << (Math.imul(lo, s1) >>> 27));
      words[base + 2] = words[base + 2]! | (1 << (Math.imul(lo, s2) >>> 27));
      words[base + 3] = words[base + 3]! | (1 << (Math.imul(lo, s3) >>> 27));
      words[base + 4] = words[base + 4]! | (1 << (Math.imul(lo, s4) >>> 27));
      words[base + 5] = words[base + 5]! | (1 << (Math.imul(lo, s5) >>> 27));
      words[base + 6] = words[base + 6]! | (1 << (Math.imul(lo, s6) >>> 27));
      words[base + 7] = words[base + 7]! | (1 << (Math.imul(lo, s7) >>> 27));
    }
  }

  add(hi: number, lo: number): void {
    const words = this.words;
    const base = this.block(hi);
    for (let i = 0; i < WORDS_PER_BLOCK; i++) words[base + i] = words[base + i]! | (1 << (Math.imul(lo, SALTS[i]!) >>> 27));
  }

  /** False when (hi, lo) was certainly never added; true when it may have been. */
  mayHold(hi: number, lo: number): boolean {
    const words = this.words;
    const base = this.block(hi);
    for (let i = 0; i < WORDS_PER_BLOCK; i++) {
      if ((words[base + i]! & (1 << (Math.imul(lo, SALTS[i]!) >>> 27))) === 0) return false;
    }
    return true;
  }

  /** The first word of the block of `hi`: `hi` scaled to the block count (no modulo bias, no division). */
  private block(hi: number): number {
    return Math.floor(((hi >>> 0) * this.blocks) / 4294967296) * WORDS_PER_BLOCK;
  }
}
