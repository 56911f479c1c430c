/**
 * The duplicate-key index's chunks (structures/key-index.ts) in `<ledger>.keys`, 16 bytes a key, one
 * write per group commit. They live beside the ledger, not in it, because 16 bytes a key crossing
 * SQLite's WAL twice halved the commit throughput (docs/architecture.md).
 *
 * The file is part of the ledger: each commit records in the ledger the file's committed length
 * and the CRC-32 of everything up to it. A chunk is written at the committed length, before the
 * transaction that commits it; bytes past the committed length (a chunk whose transaction failed, a
 * partial write) are cut off on open. A file shorter than committed, or whose content does not
 * match the CRC (deleted, truncated, replaced, a backup that copied only the `.sqlite` file), is
 * refused with a StorageError: the ledger cannot say which keys were seen, and running on would
 * process duplicate keys twice and fail dependents as invalid.
 *
 * Checking the CRC reads the whole file (144 MB at 9M keys). When the sorted runs (key-runs.ts) hold
 * a prefix of it, their manifest vouches for that prefix (its length and CRC): only the bytes past it
 * are read and must carry the prefix's CRC on to the committed one. The prefix itself is read and
 * checked only when something reads it (the runs are built again from it).
 */
import { closeSync, constants, existsSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { StorageError } from '../../errors.js';
import { storageFault } from '../storage-fault.js';

const ENTRY_BYTES = 16;
// A multiple of ENTRY_BYTES, so each block holds whole entries.
const READ_BLOCK_BYTES = 1024 * 1024;

/** What the ledger commits about the key file. */
export interface KeyFileState {
  readonly bytes: number;
  readonly crc: number;
}

/** Where a ledger keeps the key index's chunks: the key file, or memory (../memory/memory-keys.ts). */
export interface KeyStore {
  /**
   * Checks the store against the committed state; `vouched`: a prefix whose CRC something else
   * vouches for (the sorted runs' manifest). Returns whether the bytes past it carry its CRC on to
   * the committed one (then the prefix is checked only when read).
   */
  open(committed: KeyFileState | undefined, ledgerIsNew: boolean, vouched?: KeyFileState): boolean;
  /** Writes a chunk past the committed entries; returns the state to commit with it. */
  write(chunk: Uint8Array): KeyFileState;
  committed(state: KeyFileState): void;
  /** Calls `visit` with the committed entries from byte `from` on, a block at a time. */
  readBlocks(from: number, visit: (chunk: Uint8Array) => void): void;
  /** CRC-32 of the first `bytes` committed bytes (0 where the store keeps no CRC). */
  prefixCrc(bytes: number): number;
  /**
   * Calls `visit` with the committed entries past `prefix`, a block at a time, and returns whether
   * they carry `prefix.crc` on to the committed CRC (false where the store keeps no CRC): whether
   * something built from a prefix of `prefix.crc` was built from this store's.
   */
  readChained(prefix: KeyFileState, visit: (chunk: Uint8Array) => void): boolean;
  committedBytes(): number;
  close(): void;
}

export class KeyFile implements KeyStore {
  private fd: number | undefined;
  private state: KeyFileState | undefined;
  /** A prefix vouched for at open and not read since: checked before anything reads it. */
  private unchecked: KeyFileState | undefined;

  constructor(readonly path: string) {}

  /**
   * Checks the file against the committed state and cuts off anything past it. `committed` is
   * undefined when the ledger recorded none: a new ledger (`ledgerIsNew`), where a leftover file
   * belongs to a deleted ledger, or a ledger of an older batchguard, whose file is taken as it is.
   */
  open(committed: KeyFileState | undefined, ledgerIsNew: boolean, vouched?: KeyFileState): boolean {
    if (this.state) return false;
    try {
      const exists = existsSync(this.path);
      if (committed === undefined && exists && ledgerIsNew) {
        const size = fstatSizeOf(this.path);
        if (size > 0) {
          throw new StorageError(
            'STORAGE_DAMAGED',
            `the key file ${this.path} holds ${size} bytes but its ledger is new: it belongs to a ledger that was deleted or moved. Restore that ledger beside it, or delete ${this.path} to start over`,
            { path: this.path },
          );
        }
      }
      if (!exists && (committed === undefined || committed.bytes === 0)) {
        this.state = { bytes: 0, crc: 0 };
        return false;
      }
      if (!exists) throw this.mismatch(committed as KeyFileState, 'it is missing');
      this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
      const size = fstatSync(this.fd).size;
      // A ledger of an older batchguard recorded no state: its whole entries are taken as committed.
      const bytes = committed?.bytes ?? size - (size % ENTRY_BYTES);
      if (size < bytes) throw this.mismatch(committed as KeyFileState, `it holds only ${size} bytes`);
      const chained = committed !== undefined && vouched !== undefined && this.chains(vouched, committed);
      const crc = chained ? committed.crc : this.crcUpTo(bytes);
      if (committed && crc !== committed.crc) throw this.mismatch(committed, 'its content differs');
      const expected = { bytes, crc };
      if (size > expected.bytes) ftruncateSync(this.fd, expected.bytes);
      this.state = expected;
      this.unchecked = chained ? vouched : undefined;
      return chained;
    } catch (error) {
      this.close();
      throw storageFault(error, this.path, 'opening the key file', 'nothing was written') ?? error;
    }
  }

  private mismatch(expected: KeyFileState, what: string): StorageError {
    return new StorageError(
      'STORAGE_DAMAGED',
      `the key file ${this.path} does not match its ledger (${what}; the ledger committed ${expected.bytes} bytes with CRC-32 ${expected.crc}): it was deleted, truncated or replaced, for example by restoring only the .sqlite file. Restore both files from the same backup, or move both away to start over`,
      { path: this.path },
    );
  }

  /** Reads `[from, to)` a block at a time (a whole 144 MB file in one buffer was that much RSS). */
  private forEachBlock(from: number, to: number, visit: (chunk: Buffer) => void): void {
    const block = Buffer.allocUnsafe(Math.min(READ_BLOCK_BYTES, Math.max(0, to - from)));
    for (let at = from; at < to;) {
      const n = readSync(this.fd as number, block, 0, Math.min(block.byteLength, to - at), at);
      if (n === 0) break;
      visit(block.subarray(0, n));
      at += n;
    }
  }

  /** Whether the bytes from `prefix.bytes` to `to.bytes` carry `prefix.crc` on to `to.crc`. */
  private chains(prefix: KeyFileState, to: KeyFileState, visit?: (chunk: Uint8Array) => void): boolean {
    if (prefix.bytes > to.bytes || prefix.bytes % ENTRY_BYTES !== 0) return false;
    let crc = prefix.crc;
    this.forEachBlock(prefix.bytes, to.bytes, (chunk) => {
      crc = crc32(chunk, crc);
      visit?.(chunk);
    });
    return crc === to.crc;
  }

  /** Reads and checks the prefix vouched for at open, before anything reads it. */
  private checkPrefix(): void {
    const prefix = this.unchecked;
    if (prefix === undefined) return;
    if (this.crcUpTo(prefix.bytes) !== prefix.crc) throw this.mismatch(this.state as KeyFileState, 'its content differs');
    this.unchecked = undefined;
  }

  private crcUpTo(bytes: number): number {
    let crc = 0;
    this.forEachBlock(0, bytes, (chunk) => (crc = crc32(chunk, crc)));
    return crc;
  }

  /** Writes a chunk after the committed content; returns the state to commit with its batch. */
  write(chunk: Uint8Array): KeyFileState {
    const state = this.state;
    if (!state) throw new Error('KeyFile.write before open');
    try {
      this.fd ??= openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
      let written = 0;
      while (written < chunk.length) written += writeSync(this.fd, chunk, written, chunk.length - written, state.bytes + written);
    } catch (error) {
      throw storageFault(error, this.path, 'writing the key file', 'every earlier commit is intact') ?? error;
    }
    return { bytes: state.bytes + chunk.length, crc: crc32(chunk, state.crc) };
  }

  /** The ledger committed this state (after `write`). */
  committed(state: KeyFileState): void {
    this.state = state;
  }

  /** Calls `visit` with the committed entries from byte `from` on, in blocks of whole entries. */
  readBlocks(from: number, visit: (chunk: Uint8Array) => void): void {
    const state = this.state;
    if (!state) throw new Error('KeyFile.readBlocks before open');
    if (state.bytes <= from || this.fd === undefined) return;
    if (this.unchecked && from < this.unchecked.bytes) this.checkPrefix();
    this.forEachBlock(from, state.bytes, visit);
  }

  readChained(prefix: KeyFileState, visit: (chunk: Uint8Array) => void): boolean {
    const state = this.state;
    if (!state) throw new Error('KeyFile.readChained before open');
    if (this.fd === undefined) return prefix.bytes === state.bytes && prefix.crc === state.crc;
    return this.chains(prefix, state, visit);
  }

  /** CRC-32 of the first `bytes` committed bytes. */
  prefixCrc(bytes: number): number {
    const state = this.state;
    if (!state) throw new Error('KeyFile.prefixCrc before open');
    if (bytes === state.bytes) return state.crc;
    if (this.fd === undefined) return 0;
    this.checkPrefix();
    return this.crcUpTo(Math.min(bytes, state.bytes));
  }

  /** The committed length in bytes. */
  committedBytes(): number {
    const state = this.state;
    if (!state) throw new Error('KeyFile.committedBytes before open');
    return state.bytes;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.state = undefined;
    this.unchecked = undefined;
  }
}

function fstatSizeOf(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}
