/**
 * Reads one JSON Lines record again at the byte offset the source reported for it (see
 * RecordReader in source.ts): one positioned read from a file kept open, doubled until the line's
 * end is in the buffer, then parsed as the source parses a line.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { isSystemError, unreadable } from './file-source.js';
import type { RecordReader, SourceItem, SourcePosition } from './source.js';

const NEWLINE = 10;

/** First read: most lines fit (the buffer is kept, and only grows for a longer line). */
const FIRST_READ_BYTES = 4096;

export class JsonlRecordReader<T> implements RecordReader<T> {
  private fd: number | undefined;
  private buffer = Buffer.allocUnsafe(FIRST_READ_BYTES);

  constructor(private readonly path: string) {}

  read(position: SourcePosition): SourceItem<T> {
    const offset = position.offset;
    if (offset === undefined) throw new Error(`jsonl record reader: position ${position.seq} has no byte offset`);
    try {
      this.fd ??= openSync(this.path, 'r');
      const text = this.lineAt(this.fd, offset);
      try {
        return { kind: 'record', position, value: JSON.parse(text) as T };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return { kind: 'invalid', position, message: `line ${String(position.line)}: invalid JSON: ${reason}` };
      }
    } catch (error) {
      throw isSystemError(error) ? unreadable('jsonl', this.path, error) : error;
    }
  }

  close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    return Promise.resolve();
  }

  /** The text of the line starting at `offset`, without its line break. */
  private lineAt(fd: number, offset: number): string {
    let filled = 0;
    for (;;) {
      const bytesRead = readSync(fd, this.buffer, filled, this.buffer.length - filled, offset + filled);
      const searchFrom = filled;
      filled += bytesRead;
      const end = this.buffer.subarray(searchFrom, filled).indexOf(NEWLINE);
      if (end !== -1) return this.buffer.toString('utf8', 0, searchFrom + end);
      if (bytesRead === 0) return this.buffer.toString('utf8', 0, filled);
      if (filled === this.buffer.length) {
        const larger = Buffer.allocUnsafe(this.buffer.length * 2);
        this.buffer.copy(larger, 0, 0, filled);
        this.buffer = larger;
      }
    }
  }
}
