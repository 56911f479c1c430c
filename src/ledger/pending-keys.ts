/**
 * The record keys of a ledger handle (the `RecordKeys` of ledger.ts), for both backends: the set a
 * run adds keys to, loaded from the stored 16-byte entries, and the entries each commit stores: the
 * keys added since the last commit that succeeded (a commit that fails leaves them for the next
 * one). Each backend stores the entries its own way: the SQLite ledger in its key file
 * (sqlite/ledger-keys.ts), the PostgreSQL ledger in `key_chunks` rows (postgres/postgres-keys.ts).
 */
import { KEY_INDEX_ENTRY_BYTES, KEY_INDEX_MAX_EXPECTED_KEYS, KeyIndex } from '../structures/key-index.js';
import type { RecordKeys } from './ledger.js';

export class PendingKeys {
  /** The set handed to the run by `load`: what it adds is drained into each commit. */
  private current: KeyIndex | undefined;
  /** Entries drained for a commit that has not succeeded: stored with the next one. */
  private pending: Uint8Array | undefined;

  /** A new set of every stored key (`chunks`: their entries), whose additions the next commits store. */
  load(chunks: readonly Uint8Array[]): KeyIndex {
    // Sized once for what is stored (and room to grow), instead of doubling and rehashing on the way.
    const stored = chunks.reduce((sum, chunk) => sum + chunk.byteLength / KEY_INDEX_ENTRY_BYTES, 0);
    const keys = new KeyIndex({ expectedKeys: Math.min(KEY_INDEX_MAX_EXPECTED_KEYS, Math.ceil(stored * 1.25)) });
    for (const chunk of chunks) keys.load(chunk);
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
    if (chunk === undefined || chunk.length === 0) return undefined;
    this.pending = chunk;
    return chunk;
  }

  /** The commit succeeded: its keys are stored. */
  committed(): void {
    this.pending = undefined;
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
