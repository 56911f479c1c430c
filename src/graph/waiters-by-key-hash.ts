/**
 * Which stored waiting records wait on which key, without the keys' strings: an open-addressing
 * table (linear probing) from a key's 64-bit hash (key-hash.ts) to a list of edges, each edge one
 * waiting record's slot (stored-waiters.ts). 12 bytes a bucket at 35–70% load, 8 bytes an edge:
 * ~30 bytes for a record waiting on one key, where a `Map<string, object[]>` entry with its key
 * string and list cost ~150.
 *
 * Two keys with the same hash share a list: whoever takes a key's list checks each record against
 * its own dependencies when it reads it again, and links back those that wait on the other key.
 */
import { keyHash, hashKey } from './key-hash.js';

const MIN_BUCKETS = 1024;
const MAX_LOAD = 0.7;
/** hash hi, hash lo, first edge + 1 (0: an empty bucket; a bucket in use has at least one edge). */
const BUCKET = 3;

export class WaitersByKeyHash {
  private table = new Uint32Array(MIN_BUCKETS * BUCKET);
  private mask = MIN_BUCKETS - 1;
  private count = 0;
  /** Edges: a waiting record's slot, and the next edge of its bucket + 1 (0: the last); free edges chain through `edgeNext`. */
  private edgeSlot = new Uint32Array(MIN_BUCKETS);
  private edgeNext = new Uint32Array(MIN_BUCKETS);
  private edgesUsed = 0;
  private freeEdges = 0;

  /** `hash` writes a key's hash into `keyHash`. */
  constructor(private readonly hash: (key: string) => void = hashKey) {}

  /** Keys with at least one waiting record. */
  get size(): number {
    return this.count;
  }

  /** Bytes held (the table and the edges). */
  get bytes(): number {
    return this.table.byteLength + this.edgeSlot.byteLength + this.edgeNext.byteLength;
  }

  /** Whether some stored record waits on `key` (or on a key with the same hash). */
  has(key: string): boolean {
    if (this.count === 0) return false;
    this.hash(key);
    return this.table[this.find(keyHash[0] as number, keyHash[1] as number) + 2] !== 0;
  }

  /** The record in `slot` waits on `key`. */
  link(key: string, slot: number): void {
    this.hash(key);
    this.linkHash(keyHash[0] as number, keyHash[1] as number, slot);
  }

  /** The slots of the records waiting on `key` (or a key with the same hash), in the order linked; the key's list is gone after. */
  take(key: string): readonly number[] {
    if (this.count === 0) return NONE;
    this.hash(key);
    const at = this.find(keyHash[0] as number, keyHash[1] as number);
    const table = this.table;
    let edge = table[at + 2] as number;
    if (edge === 0) return NONE;
    const slots: number[] = [];
    while (edge !== 0) {
      const index = edge - 1;
      slots.push(this.edgeSlot[index] as number);
      edge = this.edgeNext[index] as number;
      this.edgeNext[index] = this.freeEdges;
      this.freeEdges = index + 1;
    }
    this.remove(at / BUCKET);
    // Linked at the head of the list: reversed, the records come out in the order they were read.
    return slots.reverse();
  }

  private linkHash(hi: number, lo: number, slot: number): void {
    if (this.count + 1 > (this.mask + 1) * MAX_LOAD) this.grow();
    const at = this.find(hi, lo);
    const table = this.table;
    if (table[at + 2] === 0) {
      table[at] = hi;
      table[at + 1] = lo;
      this.count++;
    }
    const edge = this.newEdge();
    this.edgeSlot[edge] = slot;
    this.edgeNext[edge] = table[at + 2] as number;
    table[at + 2] = edge + 1;
  }

  /** The index in `table` of the bucket of (hi, lo), or of the empty bucket where it would go. */
  private find(hi: number, lo: number): number {
    const table = this.table;
    for (let bucket = lo & this.mask; ; bucket = (bucket + 1) & this.mask) {
      const at = bucket * BUCKET;
      if (table[at + 2] === 0 || (table[at] === hi && table[at + 1] === lo)) return at;
    }
  }

  /** Empties `bucket`, shifting back the buckets after it that probed past it (no tombstones). */
  private remove(bucket: number): void {
    const table = this.table;
    const mask = this.mask;
    let hole = bucket;
    for (let next = (hole + 1) & mask; table[next * BUCKET + 2] !== 0; next = (next + 1) & mask) {
      const home = (table[next * BUCKET + 1] as number) & mask;
      // The entry at `next` may move to the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      table.copyWithin(hole * BUCKET, next * BUCKET, next * BUCKET + BUCKET);
      hole = next;
    }
    table.fill(0, hole * BUCKET, hole * BUCKET + BUCKET);
    this.count--;
  }

  private grow(): void {
    const old = this.table;
    const buckets = (this.mask + 1) * 2;
    this.table = new Uint32Array(buckets * BUCKET);
    this.mask = buckets - 1;
    for (let at = 0; at < old.length; at += BUCKET) {
      if (old[at + 2] === 0) continue;
      const to = this.find(old[at] as number, old[at + 1] as number);
      this.table.set(old.subarray(at, at + BUCKET), to);
    }
  }

  private newEdge(): number {
    if (this.freeEdges !== 0) {
      const edge = this.freeEdges - 1;
      this.freeEdges = this.edgeNext[edge] as number;
      return edge;
    }
    if (this.edgesUsed === this.edgeSlot.length) {
      const slots = new Uint32Array(this.edgeSlot.length * 2);
      slots.set(this.edgeSlot);
      this.edgeSlot = slots;
      const next = new Uint32Array(this.edgeNext.length * 2);
      next.set(this.edgeNext);
      this.edgeNext = next;
    }
    return this.edgesUsed++;
  }
}

const NONE: readonly number[] = Object.freeze([]);
