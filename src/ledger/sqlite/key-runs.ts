/**
 * The sorted runs of a SQLite ledger's keys (structures/spilling-key-index.ts) in `<ledger>.keys.sorted/`:
 * `run-N.bin` files, each with its pages (first hashes and CRCs) in `run-N.pages`, `manifest.json`,
 * which says which runs hold which stored keys, and the Bloom filter over them in `filter.bin`
 * (key-filter-file.ts). They are a cache of the key file, which stays the ledger's record of every
 * key: a resume opens the runs the manifest lists from their pages and the kept filter, reading
 * neither the runs nor the key file's part they cover, and puts only the key file's entries past
 * that part into the in-memory table. Without a kept filter (or pages) that can be used, it reads
 * each run once to build them.
 *
 * The manifest names the part of the key file its runs cover (its length and CRC-32, and the
 * `key_file_skip` and remapped keys of that time). When it does not match the ledger (no manifest: a
 * ledger of an older batchguard; a key file restored from a backup; a remap since; a run missing or
 * damaged), every run is deleted and built again from the key file, once. Runs are written before
 * the manifest that lists them and deleted only after a manifest that no longer lists them, so a
 * crash at any point leaves a manifest whose runs exist, or one that fails the check. A page that
 * does not match its CRC when it is read (the run changed on disk since) stops the run with a
 * StorageError and deletes the manifest, so the next run builds the runs again.
 */
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { StorageError } from '../../errors.js';
import type { BloomFilter } from '../../structures/bloom-filter.js';
import type { RunRecord, StoredRun } from '../../structures/spilling-key-index.js';
import { RUN_ENTRY_BYTES, SortedRun, type RunBytes, type RunPages, type RunSink, type RunStore } from '../../structures/sorted-run.js';
import { createRunFile, runFileBytes } from './key-run-file.js';
import { pagesName, readRunPages } from './key-run-pages.js';
import { readKeyFilter, writeKeyFilter, type FilterCover, type KeptFilter } from './key-filter-file.js';

/** What `manifest.json` holds. */
export interface KeyRunsManifest {
  readonly version: 1;
  /** The ledger's `key_file_skip` when the runs were written. */
  readonly skip: number;
  /** Bytes of remapped keys (the `remapped_keys` table) when the runs were written. */
  readonly remappedBytes: number;
  /** The runs hold the remapped keys and the key file's entries from `skip` up to this length. */
  readonly coveredBytes: number;
  /** CRC-32 of the key file's first `coveredBytes` bytes. */
  readonly coveredCrc: number;
  /** Oldest first. */
  readonly runs: readonly RunRecord[];
}

const MANIFEST = 'manifest.json';
const FILTER = 'filter.bin';
const RUN_FILE = /^run-(\d+)\.(bin|pages)$/;
/** What a save writes before its rename (key-filter-file.ts writes the filter's the same way). */
const TEMPORARY = new Set([`${MANIFEST}.tmp`, `${FILTER}.tmp`]);

export class KeyRunFiles implements RunStore {
  private made: number | undefined;
  private readonly open = new Map<string, number>();
  /** Runs removed from the index: deleted once a manifest no longer lists them. */
  private retired: string[] = [];
  /** A page read did not match its CRC: nothing more is kept (the next run builds the runs again). */
  private damagedRun = false;

  constructor(readonly folder: string) {}

  /** The manifest, or undefined when there is none or it cannot be read (the runs are then rebuilt). */
  readManifest(): KeyRunsManifest | undefined {
    try {
      const manifest = JSON.parse(readFileSync(join(this.folder, MANIFEST), 'utf8')) as KeyRunsManifest;
      return manifest.version === 1 && Array.isArray(manifest.runs) ? manifest : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes the manifest (whole, by rename), then deletes the runs it no longer lists. */
  saveManifest(manifest: KeyRunsManifest): void {
    if (this.damagedRun) return;
    mkdirSync(this.folder, { recursive: true, mode: 0o700 });
    const temporary = join(this.folder, `${MANIFEST}.tmp`);
    writeFileSync(temporary, JSON.stringify(manifest), { mode: 0o600 });
    renameSync(temporary, join(this.folder, MANIFEST));
    for (const name of this.retired) {
      rmSync(join(this.folder, name), { force: true });
      rmSync(join(this.folder, pagesName(name)), { force: true });
    }
    this.retired = [];
  }

  /** The kept Bloom filter, or undefined when there is none or it is not whole (ledger-keys.ts checks what it holds). */
  readFilter(): KeptFilter | undefined {
    return readKeyFilter(join(this.folder, FILTER));
  }

  /** Keeps `filter`, which holds every key `cover` says (and maybe more). */
  saveFilter(filter: BloomFilter, cover: FilterCover): void {
    if (this.damagedRun) return;
    mkdirSync(this.folder, { recursive: true, mode: 0o700 });
    writeKeyFilter(join(this.folder, FILTER), filter, cover);
  }

  /**
   * A listed run to open, with its pages when they were kept and whole; undefined when its file is
   * missing or not of the listed size.
   */
  openRun(record: RunRecord, entryBytes: number): StoredRun | undefined {
    let fd: number | undefined;
    try {
      fd = openSync(join(this.folder, record.name), constants.O_RDONLY);
      if (fstatSync(fd).size !== record.entries * entryBytes) throw new RangeError('size');
    } catch {
      if (fd !== undefined) closeSync(fd);
      return undefined;
    }
    this.open.set(record.name, fd);
    return {
      data: this.runBytes(record.name, fd, record.entries * entryBytes),
      record,
      pages: readRunPages(join(this.folder, pagesName(record.name)), record),
    };
  }

  /**
   * Deletes the run files that `manifest` does not list (left by a process that died between a
   * spill or merge and its manifest) and the half-written manifest or filter of a process killed
   * while it wrote them (each up to the filter's size, 16 MB at 9M keys, otherwise kept until a
   * later save of it).
   */
  removeUnlisted(manifest: KeyRunsManifest): void {
    const listed = new Set(manifest.runs.flatMap((run) => [run.name, pagesName(run.name)]));
    for (const name of readdirSync(this.folder))
      if ((RUN_FILE.test(name) && !listed.has(name)) || TEMPORARY.has(name)) rmSync(join(this.folder, name), { force: true });
  }

  /** Deletes every run and the manifest (before the runs are built again). */
  clear(): void {
    this.close();
    rmSync(this.folder, { recursive: true, force: true });
    this.retired = [];
    this.made = 0;
    this.damagedRun = false;
  }

  create(): RunSink {
    const name = this.newRunNames(1)[0]!;
    const { fd, sink } = createRunFile(join(this.folder, name), (fd, bytes) => this.runBytes(name, fd, bytes));
    this.open.set(name, fd);
    return sink;
  }

  /**
   * Names for `count` new runs, none of them used before (for a spill worker to write), in a folder
   * that exists. Those it does not leave as runs go with {@link discard}.
   */
  newRunNames(count: number): string[] {
    // Like the ledger and its key file: only the job's user reads the keys' hashes and positions.
    mkdirSync(this.folder, { recursive: true, mode: 0o700 });
    this.made ??= readdirSync(this.folder).reduce((most, name) => Math.max(most, Number(RUN_FILE.exec(name)?.[1] ?? 0)), 0);
    const first = this.made + 1;
    this.made += count;
    return Array.from({ length: count }, (_, i) => `run-${first + i}.bin`);
  }

  /** A run written by a spill worker under `name`, with the pages it wrote beside it. */
  adoptRun(name: string, pages: RunPages): SortedRun {
    const fd = openSync(join(this.folder, name), constants.O_RDONLY);
    this.open.set(name, fd);
    return new SortedRun(this.runBytes(name, fd, pages.entries * RUN_ENTRY_BYTES), pages);
  }

  /** Deletes run files that no manifest lists (what a failed spill worker wrote). */
  discard(names: readonly string[]): void {
    for (const name of names) {
      const fd = this.open.get(name);
      if (fd !== undefined) closeSync(fd);
      this.open.delete(name);
      rmSync(join(this.folder, name), { force: true });
      rmSync(join(this.folder, pagesName(name)), { force: true });
    }
  }

  remove(run: RunBytes): void {
    const fd = this.open.get(run.name);
    if (fd !== undefined) closeSync(fd);
    this.open.delete(run.name);
    this.retired.push(run.name);
  }

  close(): void {
    for (const fd of this.open.values()) closeSync(fd);
    this.open.clear();
  }

  private runBytes(name: string, fd: number, bytes: number): RunBytes {
    return { ...runFileBytes(name, fd, bytes), damaged: (what) => this.damaged(name, what) };
  }

  /** A run changed on disk: the manifest goes (the next run builds the runs again), and the run stops. */
  private damaged(name: string, what: string): StorageError {
    this.damagedRun = true;
    rmSync(join(this.folder, MANIFEST), { force: true });
    const path = join(this.folder, name);
    return new StorageError(
      'STORAGE_DAMAGED',
      `the sorted run ${path} of the key index ${what}: it changed on disk. The runs are a cache of the key file; they are built again from it when the job runs again`,
      { path },
    );
  }
}
