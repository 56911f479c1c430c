/**
 * Records waiting for their dependencies, kept as their position in the source alone (sequence
 * number, line, byte offset) and the count of dependencies they still wait on: 20 bytes a record
 * in typed arrays, read again from the source when they are released (dependency-tracker.ts). A
 * record held whole (its parsed value, its open record, its key and dependency strings) cost ~0.6 KB.
 *
 * Slots are numbered in the order records are stored, which is the order they were read (a record
 * read out of order is held whole instead), so a slot is found by its sequence number with a
 * binary search, and the oldest slot not closed is where the watermark must stay. Slots live in
 * chunks, dropped once every slot in them is closed: memory follows the records still held, and
 * growing never copies what is stored.
 */
import type { SourcePosition } from '../sources/source.js';

const CHUNK_BITS = 14;
const CHUNK_SLOTS = 1 << CHUNK_BITS;
const SLOT_MASK = CHUNK_SLOTS - 1;

/** A slot's `remaining` once its record is out again (read back, not finished): it still holds the watermark. */
const OUT = 0;
/** A slot's `remaining` once its record has its outcome. */
const CLOSED = -1;

interface Chunk {
  readonly seq: Uint32Array;
  /** The 1-based line, 0 when the source has none. */
  readonly line: Uint32Array;
  readonly offset: Float64Array;
  /** Dependencies still waited on (> 0), OUT or CLOSED. */
  readonly remaining: Int32Array;
}

export class StoredWaiters {
  /** chunks[i] holds slots from (firstChunk + i) × CHUNK_SLOTS on; undefined once all of them are closed. */
  private chunks: (Chunk | undefined)[] = [];
  private firstChunk = 0;
  /** The oldest slot not closed (`end` when there is none), and the next slot. */
  private head = 0;
  private end = 0;
  /** Records stored and waiting (not out, not closed). */
  waiting = 0;
  /** The sequence number of the last record stored (-1: none). */
  lastSeq = -1;

  /** Whether a record read at `position` can be stored: it has an offset and comes after every record stored. */
  accepts(position: SourcePosition): boolean {
    return position.offset !== undefined && position.seq > this.lastSeq && position.seq >>> 0 === position.seq;
  }

  /** Bytes held by the chunks. */
  get bytes(): number {
    let chunks = 0;
    for (const chunk of this.chunks) if (chunk) chunks++;
    return chunks * CHUNK_SLOTS * 20;
  }

  /** Stores a record that waits on `remaining` dependencies; returns its slot. */
  add(position: SourcePosition, remaining: number): number {
    const slot = this.end++;
    const index = (slot >>> CHUNK_BITS) - this.firstChunk;
    let chunk = this.chunks[index];
    if (chunk === undefined) {
      chunk = {
        seq: new Uint32Array(CHUNK_SLOTS),
        line: new Uint32Array(CHUNK_SLOTS),
        offset: new Float64Array(CHUNK_SLOTS),
        remaining: new Int32Array(CHUNK_SLOTS),
      };
      this.chunks[index] = chunk;
    }
    const at = slot & SLOT_MASK;
    chunk.seq[at] = position.seq;
    chunk.line[at] = position.line ?? 0;
    chunk.offset[at] = position.offset as number;
    chunk.remaining[at] = remaining;
    this.lastSeq = position.seq;
    this.waiting++;
    return slot;
  }

  /** Dependencies the record still waits on: > 0 while it waits; 0 once out; -1 once closed. */
  remaining(slot: number): number {
    if (slot < this.head || slot >= this.end) return CLOSED;
    return this.chunk(slot).remaining[slot & SLOT_MASK] as number;
  }

  /** One dependency less; returns how many are left (the caller releases the record at 0, or sets it waiting again). */
  decrement(slot: number): number {
    const remaining = this.chunk(slot).remaining;
    return --(remaining[slot & SLOT_MASK] as number);
  }

  /** The record waits on `count` dependencies again (a hash collision released it early). */
  rewait(slot: number, count: number): void {
    this.chunk(slot).remaining[slot & SLOT_MASK] = count;
  }

  /** The record is out again (read back): no longer waiting, still holding the watermark until closed. */
  takeOut(slot: number): void {
    this.chunk(slot).remaining[slot & SLOT_MASK] = OUT;
    this.waiting--;
  }

  /** The record has its outcome: its slot is done with, and the chunks before the oldest open slot are dropped. */
  close(slot: number): void {
    if (slot < this.head || slot >= this.end) return;
    this.chunk(slot).remaining[slot & SLOT_MASK] = CLOSED;
    while (this.head < this.end && this.remaining(this.head) === CLOSED) {
      this.head++;
      if ((this.head & SLOT_MASK) === 0) this.dropChunkBefore(this.head);
    }
    if (this.head === this.end && this.chunks.length > 0) {
      // Nothing stored is open: start over (keeps `chunks` from growing with undefined entries).
      this.chunks = [];
      this.firstChunk = this.head >>> CHUNK_BITS;
    }
  }

  /** Where the record in `slot` is in the source. */
  position(slot: number): SourcePosition {
    const chunk = this.chunk(slot);
    const at = slot & SLOT_MASK;
    const line = chunk.line[at] as number;
    return line === 0
      ? { seq: chunk.seq[at] as number, offset: chunk.offset[at] as number }
      : { seq: chunk.seq[at] as number, line, offset: chunk.offset[at] as number };
  }

  /** The slot of the record with sequence number `seq`, or -1 when no open slot holds it. */
  slotOf(seq: number): number {
    let low = this.head;
    let high = this.end - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const found = this.chunk(middle).seq[middle & SLOT_MASK] as number;
      if (found === seq) return this.remaining(middle) === CLOSED ? -1 : middle;
      if (found < seq) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  /** The position of the oldest record stored and not finished: the watermark may not pass it. */
  oldest(): SourcePosition | undefined {
    return this.head < this.end ? this.position(this.head) : undefined;
  }

  /** The slots of the records still waiting, oldest first. */
  waitingSlots(): number[] {
    const slots: number[] = [];
    for (let slot = this.head; slot < this.end; slot++) if (this.remaining(slot) > 0) slots.push(slot);
    return slots;
  }

  private chunk(slot: number): Chunk {
    return this.chunks[(slot >>> CHUNK_BITS) - this.firstChunk] as Chunk;
  }

  private dropChunkBefore(slot: number): void {
    const index = (slot >>> CHUNK_BITS) - 1 - this.firstChunk;
    if (index >= 0) this.chunks[index] = undefined;
    // Shift the array once its dropped prefix dominates, so that it does not grow with the run.
    if (index >= 64 && index * 2 > this.chunks.length) {
      const drop = index + 1;
      this.chunks = this.chunks.slice(drop);
      this.firstChunk += drop;
    }
  }
}
