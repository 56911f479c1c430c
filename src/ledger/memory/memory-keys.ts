/**
 * The memory ledger's key store: the key index's chunks in one growing buffer, shared by every
 * handle on the same memory ledger. Like the key file, a chunk is written past the committed bytes
 * before the transaction that commits its length; a chunk whose transaction failed is overwritten
 * by the next one.
 */
import type { KeyFileState, KeyStore } from '../sqlite/key-file.js';

/** The bytes behind one memory ledger. */
export class MemoryKeyBytes {
  data = new Uint8Array(0);
  committed = 0;
}

export class MemoryKeys implements KeyStore {
  constructor(private readonly bytes: MemoryKeyBytes) {}

  open(committed: KeyFileState | undefined): boolean {
    this.bytes.committed = committed?.bytes ?? 0;
    return false;
  }

  write(chunk: Uint8Array): KeyFileState {
    const { bytes } = this;
    const end = bytes.committed + chunk.byteLength;
    if (end > bytes.data.byteLength) {
      const grown = new Uint8Array(Math.max(end, bytes.data.byteLength * 2));
      grown.set(bytes.data.subarray(0, bytes.committed));
      bytes.data = grown;
    }
    bytes.data.set(chunk, bytes.committed);
    // The CRC guards a file against outside damage; memory has none, so it stays 0.
    return { bytes: end, crc: 0 };
  }

  committed(state: KeyFileState): void {
    this.bytes.committed = state.bytes;
  }

  readBlocks(from: number, visit: (chunk: Uint8Array) => void): void {
    if (from < this.bytes.committed) visit(this.bytes.data.slice(from, this.bytes.committed));
  }

  prefixCrc(): number {
    return 0;
  }

  /** Memory keeps no CRC: nothing built from a prefix can be matched to it. */
  readChained(): boolean {
    return false;
  }

  committedBytes(): number {
    return this.bytes.committed;
  }

  close(): void {}
}
