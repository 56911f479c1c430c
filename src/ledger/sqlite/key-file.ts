/**
 * The duplicate-key index's chunks (engine/key-index.ts), appended to `<ledger>.keys`: 16 bytes a
 * key, one write per group commit. A crash mid-write leaves a partial last entry, which reading
 * drops.
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';

const ENTRY_BYTES = 16;

export class KeyFile {
  private fd: number | undefined;

  constructor(private readonly path: string) {}

  append(chunk: Uint8Array): void {
    this.fd ??= openSync(this.path, 'a');
    let written = 0;
    while (written < chunk.length) written += writeSync(this.fd, chunk, written, chunk.length - written);
  }

  /** Every whole entry in the file (empty when there is no file). */
  readAll(): Uint8Array {
    if (!existsSync(this.path)) return new Uint8Array(0);
    const data = readFileSync(this.path);
    const whole = data.length - (data.length % ENTRY_BYTES);
    return new Uint8Array(data.buffer, data.byteOffset, whole);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
