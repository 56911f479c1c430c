/**
 * The bytes of an open file from an offset on, as a stream that never closes the file: a CSV
 * parser that ends early (a record that never ended: csv-record-parser.ts) is destroyed with its
 * input, and a new one reads on from the same file handle. Node's own file streams close their
 * file descriptor when destroyed, whatever `autoClose` says.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** A stream of the file's bytes from `start` to its end, read `chunkSize` bytes at a time. */
export function bytesFrom(handle: FileHandle, start: number, chunkSize: number): Readable {
  let position = start;
  return new Readable({
    highWaterMark: chunkSize,
    read(this: Readable): void {
      handle.read(Buffer.allocUnsafe(chunkSize), 0, chunkSize, position).then(
        ({ bytesRead, buffer }) => {
          if (this.destroyed) return;
          position += bytesRead;
          this.push(bytesRead === 0 ? null : buffer.subarray(0, bytesRead));
        },
        (error: unknown) => this.destroy(error as Error),
      );
    },
  });
}
