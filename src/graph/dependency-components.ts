/**
 * The connected components of a source's dependency graph, and their packing into chunks: what
 * lets workers share a job with `dependsOn` (distributed/component-chunk-plan.ts). A record, every
 * key it depends on, and every other record with its key are one component; a chunk holds whole
 * components only, so every dependency of a record is in the record's own chunk, and the engine's
 * dependency gate works inside a chunk as it does over a whole source.
 *
 * Keys are never kept as strings: each key read (a record's or a dependency's) gets a node through
 * a {@link KeyIndex} (a 64-bit hash of the key → the node), and the nodes are joined in a
 * union-find over typed arrays. Two keys with the same hash share a node, which only joins two
 * components that did not need to be: a bigger chunk, never a dependency left outside its chunk.
 * A `Map<string, number>` would keep every key's string, and cannot hold more than 16,777,216 keys.
 */
import { KeyIndex } from '../structures/key-index.js';

/** How records were packed: each record's chunk, in source order, and how many chunks. */
export interface ComponentPacking {
  /** Record i's chunk (0-based, chunks numbered in the order their first record is met). */
  readonly chunkOf: Int32Array;
  readonly chunks: number;
  /** Records in the largest component: at most one chunk's worth of work can run beside it. */
  readonly largestComponent: number;
}

export class DependencyComponents {
  private readonly nodes = new KeyIndex();
  private parent = new Int32Array(1024);
  private size = new Int32Array(1024);
  private nodeCount = 0;
  /** Record i's node: its key's, or a node of its own for a record without a usable key. */
  private recordNode = new Int32Array(1024);
  private recordCount = 0;

  get records(): number {
    return this.recordCount;
  }

  /** Bytes held by the typed arrays and the key table (the figure docs/workers.md quotes per key). */
  get bytes(): number {
    return this.parent.byteLength + this.size.byteLength + this.recordNode.byteLength + this.nodes.bytes;
  }

  /**
   * The next record in source order: its key (undefined for an item without a usable key: it is a
   * component of its own) and the keys it depends on.
   */
  addRecord(key: string | undefined, dependsOn: readonly string[]): void {
    const node = key === undefined ? this.newNode() : this.nodeOf(key);
    for (const dep of dependsOn) this.union(node, this.nodeOf(dep));
    if (this.recordCount === this.recordNode.length) this.recordNode = grownInt32(this.recordNode);
    this.recordNode[this.recordCount++] = node;
  }

  /**
   * Packs whole components into chunks, in source order: a component goes to the chunk open when
   * its first record is met; a chunk closes once it holds at least `recordsPerChunk` records (a
   * component larger than that is one chunk by itself, whatever its size). Called once: it reuses
   * the union-find's arrays.
   */
  pack(recordsPerChunk: number): ComponentPacking {
    const records = this.recordCount;
    const chunkOf = new Int32Array(records);
    const recordsOfRoot = new Int32Array(this.nodeCount);
    for (let i = 0; i < records; i++) {
      const root = this.find(this.recordNode[i] as number);
      chunkOf[i] = root;
      recordsOfRoot[root] = (recordsOfRoot[root] as number) + 1;
    }
    let largestComponent = 0;
    for (const count of recordsOfRoot) largestComponent = Math.max(largestComponent, count);
    // Reused: a root's chunk, -1 until its first record is met.
    const chunkOfRoot = this.size.subarray(0, this.nodeCount).fill(-1);
    let chunk = -1;
    let filled = recordsPerChunk;
    for (let i = 0; i < records; i++) {
      const root = chunkOf[i] as number;
      if ((chunkOfRoot[root] as number) < 0) {
        if (filled >= recordsPerChunk) {
          chunk++;
          filled = 0;
        }
        chunkOfRoot[root] = chunk;
        filled += recordsOfRoot[root] as number;
      }
      chunkOf[i] = chunkOfRoot[root] as number;
    }
    return { chunkOf, chunks: chunk + 1, largestComponent };
  }

  private nodeOf(key: string): number {
    // The index logs what it adds, for a ledger's commits; nothing here wants the log.
    if (this.nodes.undrained >= DRAIN_EVERY) this.nodes.drain();
    const owner = this.nodes.add(key, this.nodeCount, 0);
    return owner === undefined ? this.newNode() : owner.seq;
  }

  private newNode(): number {
    if (this.nodeCount === this.parent.length) {
      this.parent = grownInt32(this.parent);
      this.size = grownInt32(this.size);
    }
    const node = this.nodeCount++;
    this.parent[node] = node;
    this.size[node] = 1;
    return node;
  }

  /** The root of `node`'s component, halving the path on the way (no recursion: chains may be millions long). */
  private find(node: number): number {
    const parent = this.parent;
    let at = node;
    while (parent[at] !== at) {
      const up = parent[at] as number;
      parent[at] = parent[up] as number;
      at = up;
    }
    return at;
  }

  /** Joins two components, the smaller under the larger (trees stay logarithmically shallow). */
  private union(a: number, b: number): void {
    let rootA = this.find(a);
    let rootB = this.find(b);
    if (rootA === rootB) return;
    if ((this.size[rootA] as number) < (this.size[rootB] as number)) [rootA, rootB] = [rootB, rootA];
    this.parent[rootB] = rootA;
    this.size[rootA] = (this.size[rootA] as number) + (this.size[rootB] as number);
  }
}

const DRAIN_EVERY = 65_536;

function grownInt32(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const next = new Int32Array(array.length * 2);
  next.set(array);
  return next;
}
