/**
 * The Bloom filter of a SQLite ledger's key index, kept beside its sorted runs
 * (`<ledger>.keys.sorted/filter.bin`, key-runs.ts), so that a resume does not read every run to
 * build it again (144 MB at 9M keys; the filter is 1.25 bytes a key).
 *
 * A filter is only ever used when it provably holds every key of the runs: the file carries a CRC-32
 * of all its bytes (a file cut short or changed by a crash mid-write, or anything else, is not
 * used), and says which stored keys it holds: the remapped keys and the key file's entries from
 * `skip` up to `coveredBytes`, whose CRC was `coveredCrc`. The key file's entries past that are added
 * on open, and must carry `coveredCrc` on to the CRC the ledger committed; otherwise the filter is
 * built again from the runs. A filter may hold more keys than that (keys a run added and never
 * committed): a "maybe" too many costs a page read, never a wrong answer.
 */
import { closeSync, constants, fstatSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { BloomFilter } from '../../structures/bloom-filter.js';

/** Which stored keys a kept filter holds. */
export interface FilterCover {
  /** The ledger's `key_file_skip` when the filter was kept. */
  readonly skip: number;
  /** Bytes of remapped keys then. */
  readonly remappedBytes: number;
  /** The filter holds the key file's entries from `skip` up to this length... */
  readonly coveredBytes: number;
  /** ...whose first `coveredBytes` bytes had this CRC-32. */
  readonly coveredCrc: number;
}

/** A kept filter and what it holds. */
export interface KeptFilter {
  readonly filter: BloomFilter;
  readonly cover: FilterCover;
}

const MAGIC = 0x46424742; // "BGBF", little-endian
const VERSION = 1;
// magic, version, capacity, skip, remappedBytes, coveredBytes, coveredCrc, words: a multiple of 4,
// so the words that follow can be viewed in place.
const HEADER_BYTES = 48;

/** Writes the filter and what it holds to `path`, whole: to a temporary file, then renamed over it. */
export function writeKeyFilter(path: string, filter: BloomFilter, cover: FilterCover): void {
  const header = new DataView(new ArrayBuffer(HEADER_BYTES));
  header.setUint32(0, MAGIC, true);
  header.setUint32(4, VERSION, true);
  header.setFloat64(8, filter.capacity, true);
  header.setFloat64(16, cover.skip, true);
  header.setFloat64(24, cover.remappedBytes, true);
  header.setFloat64(32, cover.coveredBytes, true);
  header.setUint32(40, cover.coveredCrc, true);
  header.setUint32(44, filter.words.length, true);
  const head = new Uint8Array(header.buffer);
  const words = new Uint8Array(filter.words.buffer, filter.words.byteOffset, filter.words.byteLength);
  const crc = new Uint8Array(4);
  new DataView(crc.buffer).setUint32(0, crc32(words, crc32(head)), true);
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    for (const part of [head, words, crc]) writeFileSync(fd, part);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** The filter kept at `path`, or undefined when there is none or it is not whole and unchanged. */
export function readKeyFilter(path: string): KeptFilter | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    if (size < HEADER_BYTES + 4 || size % 4 !== 0) return undefined;
    // Read into a buffer of its own: the words are then viewed in place, not copied.
    const bytes = new Uint8Array(size);
    for (let at = 0; at < size;) {
      const n = readSync(fd, bytes, at, size - at, at);
      if (n === 0) return undefined;
      at += n;
    }
    const view = new DataView(bytes.buffer);
    if (view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== VERSION) return undefined;
    if (crc32(bytes.subarray(0, size - 4)) !== view.getUint32(size - 4, true)) return undefined;
    const capacity = view.getFloat64(8, true);
    const wordCount = view.getUint32(44, true);
    if (HEADER_BYTES + wordCount * 4 + 4 !== size || !Number.isSafeInteger(capacity) || BloomFilter.wordsFor(capacity) !== wordCount) {
      return undefined;
    }
    const cover: FilterCover = {
      skip: view.getFloat64(16, true),
      remappedBytes: view.getFloat64(24, true),
      coveredBytes: view.getFloat64(32, true),
      coveredCrc: view.getUint32(40, true),
    };
    return { filter: new BloomFilter(capacity, new Uint32Array(bytes.buffer, HEADER_BYTES, wordCount)), cover };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
