/**
 * The sorted runs of a SQLite ledger's keys (structures/spilling-key-index.ts) in `<ledger>.keys.sorted/`:
 * `run-N.bin` files and `manifest.json`, which says which runs hold which stored keys. They are a
 * cache of the key file, which stays the ledger's record of every key: a resume opens the runs the
 * manifest lists (reading each once to fill the Bloom filter) instead of inserting every entry of
 * the key file into a table, and puts only the key file's entries past what the runs cover into the
 * in-memory table.
 *
 * The manifest names the part of the key file its runs cover (its length and CRC-32, and the
 * `key_file_skip` and remapped keys of that time). When it does not match the ledger (no manifest: a
 * ledger of an older batchguard; a key file restored from a backup; a remap since; a run missing or
 * damaged), every run is deleted and built again from the key file, once. Runs are written before
 * the manifest that lists them and deleted only after a manifest that no longer lists them, so a
 * crash at any point leaves a manifest whose runs exist, or one that fails the check.
 */
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { RunRecord } from '../../structures/spilling-key-index.js';
import type { RunBytes, RunSink, RunStore } from '../../structures/sorted-run.js';

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
const RUN_FILE = /^run-(\d+)\.bin$/;

export class KeyRunFiles implements RunStore {
  private made: number | undefined;
  private readonly open = new Map<string, number>();
  /** Runs removed from the index: deleted once a manifest no longer lists them. */
  private retired: string[] = [];

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
    mkdirSync(this.folder, { recursive: true, mode: 0o700 });
    const temporary = join(this.folder, `${MANIFEST}.tmp`);
    writeFileSync(temporary, JSON.stringify(manifest), { mode: 0o600 });
    renameSync(temporary, join(this.folder, MANIFEST));
    for (const name of this.retired) rmSync(join(this.folder, name), { force: true });
    this.retired = [];
  }

  /** The bytes of a listed run, or undefined when its file is missing or not of the listed size. */
  openRun(record: RunRecord, entryBytes: number): RunBytes | undefined {
    let fd: number | undefined;
    try {
      fd = openSync(join(this.folder, record.name), constants.O_RDONLY);
      if (fstatSync(fd).size !== record.entries * entryBytes) throw new RangeError('size');
    } catch {
      if (fd !== undefined) closeSync(fd);
      return undefined;
    }
    this.open.set(record.name, fd);
    return this.runBytes(record.name, fd, record.entries * entryBytes);
  }

  /** Deletes the run files that `manifest` does not list: left by a process that died between a merge and its manifest. */
  removeUnlisted(manifest: KeyRunsManifest): void {
    const listed = new Set(manifest.runs.map((run) => run.name));
    for (const name of readdirSync(this.folder))
      if (RUN_FILE.test(name) && !listed.has(name)) rmSync(join(this.folder, name), { force: true });
  }

  /** Deletes every run and the manifest (before the runs are built again). */
  clear(): void {
    this.close();
    rmSync(this.folder, { recursive: true, force: true });
    this.retired = [];
    this.made = 0;
  }

  create(): RunSink {
    // Like the ledger and its key file: only the job's user reads the keys' hashes and positions.
    mkdirSync(this.folder, { recursive: true, mode: 0o700 });
    this.made ??= readdirSync(this.folder).reduce((most, name) => Math.max(most, Number(RUN_FILE.exec(name)?.[1] ?? 0)), 0);
    const name = `run-${++this.made}.bin`;
    const path = join(this.folder, name);
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600);
    this.open.set(name, fd);
    let bytes = 0;
    return {
      append: (chunk) => {
        for (let written = 0; written < chunk.byteLength;)
          written += writeSync(fd, chunk, written, chunk.byteLength - written, bytes + written);
        bytes += chunk.byteLength;
      },
      finish: () => this.runBytes(name, fd, bytes),
    };
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
    return { name, bytes, read: (offset, into) => readSync(fd, into, 0, Math.min(into.byteLength, bytes - offset), offset) };
  }
}
