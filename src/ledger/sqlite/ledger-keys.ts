/**
 * The SQLite ledger's record keys (the `RecordKeys` of ../ledger.ts; what each commit stores is
 * ../pending-keys.ts's): stored as their 16-byte entries in the key store (`<ledger>.keys`, or
 * memory), one chunk per commit, with the chunks of an accepted drift's remap in `remapped_keys`.
 * The committed length and the CRC stay here: the engine only adds and finds keys.
 */
import type Database from 'better-sqlite3';
import { KEY_INDEX_ENTRY_BYTES } from '../../structures/key-index.js';
import { SpillingKeyIndex } from '../../structures/spilling-key-index.js';
import type { RecordKeys } from '../ledger.js';
import { PendingKeys, remapEntries } from '../pending-keys.js';
import type { KeyFileState, KeyStore } from './key-file.js';
import { KeyRunSpiller } from './key-run-spiller.js';
import type { KeyRunFiles, KeyRunsManifest } from './key-runs.js';
import type { BloomFilter } from '../../structures/bloom-filter.js';
import { parseJson } from '../row-codec.js';

/** Where the stored keys came from at the last load: what a manifest of runs must match. */
interface LoadOrigin {
  readonly skip: number;
  readonly remappedBytes: number;
}

type Meta = { get(key: string): string | undefined };

/** The filter is kept again when this share of the stored keys is past what the kept one holds. */
const FILTER_LAG = 0.125;

export class LedgerKeys {
  private readonly keys;
  private readonly remapped;
  private opened = false;
  private loaded: { readonly index: SpillingKeyIndex; readonly origin: LoadOrigin } | undefined;
  /** The manifest read at open, and whether the key file carries its CRC on (read once, by the first load). */
  private atOpen: { readonly manifest: KeyRunsManifest; readonly chains: boolean } | undefined;
  /** Key file bytes the kept filter holds. */
  private filterBytes = 0;
  /** The filter last kept: one the index replaced (grown for more keys) is kept at the next spill. */
  private keptAs: BloomFilter | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly meta: Meta,
    db: Database.Database,
    /** No run had started on the ledger when it was opened (a leftover key file is refused). */
    private readonly ledgerIsNew: boolean,
    /** Where the sorted runs are kept across runs; undefined: in memory, for this handle only. */
    private readonly runFiles: KeyRunFiles | undefined,
    /** Keys the in-memory table holds before it is spilled into a run (tests make it small). */
    private readonly spillKeys: number | undefined,
  ) {
    this.remapped = db.prepare('SELECT chunk FROM remapped_keys ORDER BY id').pluck();
    this.keys = new PendingKeys(runFiles ? 'committed' : 'drained');
  }

  /** Checks the key store against the committed state (once per handle). */
  open(): void {
    // Every commit calls this: the stored state is read and parsed only until the store is open.
    if (this.opened) return;
    // The runs' manifest vouches for the part of the key file they hold: only the rest is read.
    const manifest = this.runFiles && !this.ledgerIsNew ? this.runFiles.readManifest() : undefined;
    const vouched = manifest && { bytes: manifest.coveredBytes, crc: manifest.coveredCrc };
    const chains = this.store.open(parseJson<KeyFileState>(this.meta.get('keys')), this.ledgerIsNew, vouched);
    this.atOpen = manifest && { manifest, chains };
    this.opened = true;
  }

  /**
   * Every stored key, in a new set that the next commits store the additions of: the runs of the
   * last manifest when it matches the ledger, plus the key file's entries past them; otherwise every
   * stored entry, spilled into new runs as the table fills.
   */
  load(): RecordKeys {
    this.open();
    // After accepted drift, the source's keys at their new positions come first; the key file's
    // entries written before then are superseded (their positions are the old ones).
    const remapped = [...(this.remapped.iterate() as Iterable<Buffer>)];
    const origin = {
      skip: Number(this.meta.get('key_file_skip') ?? 0),
      remappedBytes: remapped.reduce((sum, chunk) => sum + chunk.byteLength, 0),
    };
    this.loaded?.index.close();
    const files = this.runFiles;
    if (files === undefined) {
      const chunks: Uint8Array[] = [...remapped];
      this.store.readBlocks(origin.skip, (chunk) => chunks.push(chunk.slice()));
      return this.keys.load(chunks);
    }
    files.close();
    const committed = this.store.committedBytes();
    const stored = (origin.remappedBytes + Math.max(0, committed - origin.skip)) / KEY_INDEX_ENTRY_BYTES;
    // Spills at commits go to a worker thread (key-run-spiller.ts); those of this load are made here.
    const index = new SpillingKeyIndex({ store: files, spillKeys: this.spillKeys, spiller: new KeyRunSpiller(files) });
    let from = this.ledgerIsNew ? undefined : this.openRuns(index, files, origin, stored);
    const runsBefore = JSON.stringify(index.runRecords);
    if (from === undefined) {
      files.clear();
      index.reserve(Math.ceil(stored * 1.25));
      for (const chunk of remapped) index.load(chunk);
      from = origin.skip;
    }
    this.store.readBlocks(from, (chunk) => index.load(chunk));
    this.loaded = { index, origin };
    if (JSON.stringify(index.runRecords) !== runsBefore) {
      // Runs were made from stored entries: all of them go into runs now, and a manifest says so.
      index.spill();
      const state = { bytes: committed, crc: this.store.prefixCrc(committed) };
      this.saveManifest(files, index, origin, state);
      this.saveFilter(state);
    }
    return this.keys.adopt(index);
  }

  /** Opens the runs of the manifest when it matches the ledger; returns the key file length they cover. */
  private openRuns(index: SpillingKeyIndex, files: KeyRunFiles, origin: LoadOrigin, stored: number): number | undefined {
    const atOpen = this.atOpen;
    this.atOpen = undefined;
    const manifest = atOpen ? atOpen.manifest : files.readManifest();
    const committed = this.store.committedBytes();
    if (manifest === undefined || manifest.skip !== origin.skip || manifest.remappedBytes !== origin.remappedBytes) return undefined;
    if (manifest.coveredBytes > committed || manifest.coveredBytes < origin.skip) return undefined;
    if (atOpen ? !atOpen.chains : this.store.prefixCrc(manifest.coveredBytes) !== manifest.coveredCrc) return undefined;
    const runs = [];
    for (const record of manifest.runs) {
      const run = files.openRun(record, KEY_INDEX_ENTRY_BYTES);
      if (run === undefined) return undefined;
      runs.push(run);
    }
    try {
      index.openRuns(runs, Math.ceil(stored * 1.25), this.keptFilter(files, origin));
    } catch (error) {
      if (error instanceof RangeError) return undefined;
      throw error;
    }
    files.removeUnlisted(manifest);
    return manifest.coveredBytes;
  }

  /**
   * The kept filter, when it holds the same stored keys' origin and the key file's entries up to a
   * length whose CRC the key file carries on to the committed one; the entries past that length are
   * added to it. Undefined otherwise (the runs are then read to build it).
   */
  private keptFilter(files: KeyRunFiles, origin: LoadOrigin): BloomFilter | undefined {
    const kept = files.readFilter();
    if (kept === undefined) return undefined;
    const { filter, cover } = kept;
    if (cover.skip !== origin.skip || cover.remappedBytes !== origin.remappedBytes || cover.coveredBytes < origin.skip) return undefined;
    const chains = this.store.readChained({ bytes: cover.coveredBytes, crc: cover.coveredCrc }, (chunk) => filter.addEntries(chunk));
    if (!chains) return undefined;
    this.filterBytes = cover.coveredBytes;
    this.keptAs = filter;
    return filter;
  }

  /** Keeps the loaded index's filter, which holds every key stored up to `state` (and maybe more). */
  private saveFilter(state: KeyFileState): void {
    const loaded = this.loaded;
    if (this.runFiles === undefined || loaded === undefined) return;
    this.runFiles.saveFilter(loaded.index.filter, { ...loaded.origin, coveredBytes: state.bytes, coveredCrc: state.crc });
    this.filterBytes = state.bytes;
    this.keptAs = loaded.index.filter;
  }

  private saveManifest(files: KeyRunFiles, index: SpillingKeyIndex, origin: LoadOrigin, covered: KeyFileState): void {
    files.saveManifest({ version: 1, ...origin, coveredBytes: covered.bytes, coveredCrc: covered.crc, runs: index.runRecords });
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
    // A spill after a commit holds only stored keys: the manifest now covers the key file up to the
    // commit after which it started (a spill on the worker ends at a later one).
    const covered = this.keys.committed(state);
    if (covered && this.runFiles && this.loaded) {
      this.saveManifest(this.runFiles, this.loaded.index, this.loaded.origin, covered);
      // Kept again as it falls behind, so that after a crash a resume adds at most about this share
      // of the keys to it, and the filters written add up to a few times the last one's size; and
      // once grown, since a filter planned for fewer keys than the runs hold is not used.
      const behind = state.bytes - this.filterBytes > (state.bytes - this.loaded.origin.skip) * FILTER_LAG;
      if (behind || this.loaded.index.filter !== this.keptAs) this.saveFilter(state);
    }
  }

  /** The entries of a remap's keys, which must come from `newKeys` (a set of this ledger's kind). */
  remapEntries(keys: RecordKeys): Uint8Array {
    return remapEntries(keys);
  }

  /** A remap replaced every stored key: the run loads them again. */
  forget(): void {
    this.loaded?.index.close();
    this.keys.forget();
    this.loaded = undefined;
  }

  /** The committed length of the key store, from which a remap supersedes its entries. */
  committedBytes(): number {
    this.open();
    return this.store.committedBytes();
  }

  close(): void {
    // Kept whole at the end (unless the kept one already is: a run that stored no key), so that the
    // next resume adds no key file entry to it. It is a cache: a failure to write it (a full disk)
    // costs the next resume a read of the runs, nothing else.
    const loaded = this.loaded;
    if (this.opened && loaded && this.runFiles) {
      // A spill under way is waited for and listed, so that the next resume opens its runs.
      try {
        const covered = loaded.index.settle(true) as KeyFileState | undefined;
        if (covered) this.saveManifest(this.runFiles, loaded.index, loaded.origin, covered);
      } catch {
        // The runs are a cache: the next resume reads the key file past the manifest's runs.
      }
    }
    loaded?.index.close();
    if (this.opened && loaded && (loaded.index.filter !== this.keptAs || this.filterBytes !== this.store.committedBytes())) {
      try {
        this.saveFilter({ bytes: this.store.committedBytes(), crc: this.store.prefixCrc(this.store.committedBytes()) });
      } catch {
        // The filter stays as it was, and is checked as always when it is read.
      }
    }
    this.loaded = undefined;
    this.runFiles?.close();
    this.store.close();
    this.opened = false;
  }
}
