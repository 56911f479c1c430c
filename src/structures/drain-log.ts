/**
 * The drain log of a KeyIndex (key-index.ts): the entries added since the last drain, in insertion
 * order, which the next commit stores. It holds their slots in the table (4 bytes an entry, read
 * back from the table at the drain), or with `copies` the entries themselves (16 bytes an entry):
 * then a drain reads nothing back from a table larger than the cache, one cache miss a key less.
 */

const WORDS = 4;
const INITIAL_ENTRIES = 1024;
// A log larger than this is given back after a drain instead of being kept for the next batch, so
// one huge batch (or an index that is never drained) does not pin its log for the rest of the run.
const KEPT_ENTRIES = 65_536;

export class DrainLog {
  /** Words an entry: 1 (its slot) or 4 (a copy). */
  private readonly words: number;
  private log: Uint32Array;
  /** Entries logged since the last drain. */
  length = 0;

  constructor(copies: boolean) {
    this.words = copies ? WORDS : 1;
    this.log = new Uint32Array(INITIAL_ENTRIES * this.words);
  }

  get bytes(): number {
    return this.log.byteLength;
  }

  /** Logs the entry (hi, lo, seq, line) just stored in `slot`. */
  add(slot: number, hi: number, lo: number, seq: number, line: number): void {
    if (this.length * this.words === this.log.length) {
      const log = new Uint32Array(this.log.length * 2);
      log.set(this.log);
      this.log = log;
    }
    if (this.words === 1) {
      this.log[this.length++] = slot;
      return;
    }
    const to = this.length++ * WORDS;
    const log = this.log;
    log[to] = hi;
    log[to + 1] = lo;
    log[to + 2] = seq;
    log[to + 3] = line;
  }

  /**
   * The logged entries as 16 bytes each (the table's four uint32 a slot, in the platform's byte
   * order: little-endian, which sorted-run.ts checks), and an empty log.
   */
  drain(table: Uint32Array): Uint8Array {
    const count = this.length;
    const chunk = new Uint8Array(count * WORDS * 4);
    const out = new Uint32Array(chunk.buffer, 0, count * WORDS);
    const log = this.log;
    if (this.words === WORDS) {
      out.set(log.subarray(0, count * WORDS));
    } else {
      for (let i = 0; i < count; i++) {
        const at = log[i]! * WORDS;
        const to = i * WORDS;
        out[to] = table[at]!;
        out[to + 1] = table[at + 1]!;
        out[to + 2] = table[at + 2]!;
        out[to + 3] = table[at + 3]!;
      }
    }
    this.length = 0;
    if (this.log.length > KEPT_ENTRIES * this.words) this.log = new Uint32Array(INITIAL_ENTRIES * this.words);
    return chunk;
  }

  /** The table's entries moved: `newSlot(slot)` is where the entry of `slot` is now (slots only). */
  moved(newSlot: (slot: number) => number): void {
    if (this.words !== 1) return;
    const log = this.log;
    for (let i = 0; i < this.length; i++) log[i] = newSlot(log[i]!);
  }
}
