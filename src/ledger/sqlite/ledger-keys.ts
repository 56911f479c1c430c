/**
 * The SQLite ledger's record keys (the `RecordKeys` of ../ledger.ts; what each commit stores is
 * ../pending-keys.ts's): stored as their 16-byte entries in the key store (`<ledger>.keys`, or
 * memory), one chunk per commit, with the chunks of an accepted drift's remap in `remapped_keys`.
 * The committed length and the CRC stay here: the engine only adds and finds keys.
 */
import type Database from 'better-sqlite3';
import type { KeyIndex } from '../../structures/key-index.js';
import type { RecordKeys } from '../ledger.js';
import { PendingKeys, remapEntries } from '../pending-keys.js';
import type { KeyFileState, KeyStore } from './key-file.js';
import { parseJson } from '../row-codec.js';

type Meta = { get(key: string): string | undefined };

export class LedgerKeys {
  private readonly keys = new PendingKeys();
  private readonly remapped;
  private opened = false;

  constructor(
    private readonly store: KeyStore,
    private readonly meta: Meta,
    db: Database.Database,
    /** No run had started on the ledger when it was opened (a leftover key file is refused). */
    private readonly ledgerIsNew: boolean,
  ) {
    this.remapped = db.prepare('SELECT chunk FROM remapped_keys ORDER BY id').pluck();
  }

  /** Checks the key store against the committed state (once per handle). */
  open(): void {
    // Every commit calls this: the stored state is read and parsed only until the store is open.
    if (this.opened) return;
    this.store.open(parseJson<KeyFileState>(this.meta.get('keys')), this.ledgerIsNew);
    this.opened = true;
  }

  /** Every stored key, in a new set that the next commits store the additions of. */
  load(): KeyIndex {
    this.open();
    // After accepted drift, the source's keys at their new positions come first; the key file's
    // entries written before then are superseded (their positions are the old ones).
    const chunks: Uint8Array[] = [...(this.remapped.iterate() as Iterable<Buffer>)];
    const fromFile = this.store.readAll(Number(this.meta.get('key_file_skip') ?? 0));
    if (fromFile.length > 0) chunks.push(fromFile);
    return this.keys.load(chunks);
  }

  /**
   * Writes the keys added since the last commit past the committed entries, inside the commit's
   * transaction (after its lease check: the file is not fenced by SQLite) and before the row that
   * records their length. Returns the state to record in that transaction, or undefined when there
   * is nothing to write.
   */
  write(): KeyFileState | undefined {
    const chunk = this.keys.take();
    if (chunk === undefined) return undefined;
    this.open();
    return this.store.write(chunk);
  }

  /** The commit that recorded `state` succeeded. */
  committed(state: KeyFileState): void {
    this.store.committed(state);
    this.keys.committed();
  }

  /** The entries of a remap's keys, which must come from `newKeys` (a set of this ledger's kind). */
  remapEntries(keys: RecordKeys): Uint8Array {
    return remapEntries(keys);
  }

  /** A remap replaced every stored key: the run loads them again. */
  forget(): void {
    this.keys.forget();
  }

  /** The committed length of the key store, from which a remap supersedes its entries. */
  committedBytes(): number {
    this.open();
    return this.store.committedBytes();
  }

  close(): void {
    this.store.close();
    this.opened = false;
  }
}
