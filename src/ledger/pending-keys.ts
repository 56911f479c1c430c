/**
 * The record keys of a ledger handle (the `RecordKeys` of ledger.ts), for both backends: the set a
 * run adds keys to, loaded from the stored 16-byte entries, and the entries each commit stores: the
 * keys added since the last commit that succeeded (a commit that fails leaves them for the next
 * one). Each backend stores the entries its own way: the SQLite ledger in its key file
 * (sqlite/ledger-keys.ts), the PostgreSQL ledger in `key_chunks` rows (postgres/postgres-keys.ts).
 */
import { KEY_INDEX_ENTRY_BYTES, KeyIndex } from '../structures/key-index.js';
import { MemoryRunStore } from '../structures/memory-run-store.js';
import { SpillingKeyIndex } from '../structures/spilling-key-index.js';
import type { RecordKeys } from './ledger.js';

/**
 * When the set's in-memory table may be spilled into a sorted run: right after each drain, when the
 * runs are not kept past the process (nothing needs to know which keys they hold), or only after a
 * commit succeeded, when they are kept and a manifest says which stored keys they hold
 * (sqlite/key-runs.ts): then every key in a run is stored.
 */
export type SpillMoment = 'drained' | 'committed';

export class PendingKeys {
  /** The set handed to the run by `load`: what it adds is drained into each commit. */
  private current: SpillingKeyIndex | undefined;
  /** Entries drained for a commit that has not succeeded: stored with the next one. */
  private pending: Uint8Array | undefined;

  constructor(private readonly spillAt: SpillMoment = 'drained') {}

  /** A new set of every stored key (`chunks`: their entries), whose additions the next commits store. */
  load(chunks: readonly Uint8Array[]): SpillingKeyIndex {
    const keys = new SpillingKeyIndex({ store: new MemoryRunStore() });
    // Sized once for what is stored (and room to grow), instead of doubling on the way.
    keys.reserve(Math.ceil(chunks.reduce((sum, chunk) => sum + chunk.byteLength / KEY_INDEX_ENTRY_BYTES, 0) * 1.25));
    for (const chunk of chunks) keys.load(chunk);
    return this.adopt(keys);
  }

  /** Hands `keys` (every stored key, loaded by the caller) to the run: the next commits store its additions. */
  adopt(keys: SpillingKeyIndex): SpillingKeyIndex {
    this.current = keys;
    this.pending = undefined;
    return keys;
  }

  /**
   * The entries for the next commit to store: the keys added since the last commit that succeeded
   * (undefined: none). Call `committed()` once that commit succeeded.
   */
  take(): Uint8Array | undefined {
    const added = this.current?.drain();
    const chunk = this.pending && added?.length ? concat(this.pending, added) : (this.pending ?? added);
    if (this.spillAt === 'drained') this.current?.spillIfFull();
    if (chunk === undefined || chunk.length === 0) return undefined;
    this.pending = chunk;
    return chunk;
  }

  /**
   * The commit succeeded: its keys are stored (`covers` says what it stored, as the caller wants it
   * back). When spilling at `committed`, returns the `covers` of the commit after which the set's
   * runs were last made, when they changed now (a spill on a worker ends at a later commit than it
   * started): its runs hold every key that commit stored, and only stored keys. Undefined otherwise.
   */
  committed<T>(covers?: T): T | undefined {
    this.pending = undefined;
    return this.spillAt === 'committed' && covers !== undefined ? this.current?.spillWhenFull(covers) : undefined;
  }

  /** Every stored key was replaced (a remap): the run loads them again. */
  forget(): void {
    this.current = undefined;
    this.pending = undefined;
  }
}

/** The entries of a remap's keys, which must come from the same ledger (`Ledger.newKeys`). */
export function remapEntries(keys: RecordKeys): Uint8Array {
  if (!(keys instanceof KeyIndex)) throw new TypeError('SourceRemap.keys must come from the same ledger (Ledger.newKeys)');
  return keys.drain();
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  return both;
}
