/**
 * What the readers of one record again from a file (jsonl-record-reader.ts, csv-record-reader.ts)
 * share: the file kept open between reads and opened on the first, a read buffer that grows by
 * doubling for a long record, and errors of the file system named as the source's.
 */
import { closeSync, openSync } from 'node:fs';
import { isSystemError, unreadable } from './file-source.js';
import type { RecordReader, SourceItem, SourcePosition } from './source.js';

/** First read: most records fit (the buffer is kept, and only grows for a longer record). */
const FIRST_READ_BYTES = 4096;

export abstract class FileRecordReader<T> implements RecordReader<T> {
  private fd: number | undefined;
  protected buffer = Buffer.allocUnsafe(FIRST_READ_BYTES);

  constructor(
    /** The source's kind, for messages: `jsonl`, `csv`. */
    private readonly kind: string,
    protected readonly path: string,
  ) {}

  read(position: SourcePosition): SourceItem<T> {
    const offset = position.offset;
    if (offset === undefined) throw new Error(`${this.kind} record reader: position ${position.seq} has no byte offset`);
    try {
      this.fd ??= openSync(this.path, 'r');
      return this.itemAt(this.fd, position, offset);
    } catch (error) {
      throw isSystemError(error) ? unreadable(this.kind, this.path, error) : error;
    }
  }

  close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    return Promise.resolve();
  }

  /** The item whose first byte is at `offset` of the file open as `fd`. */
  protected abstract itemAt(fd: number, position: SourcePosition, offset: number): SourceItem<T>;

  /** Doubles the buffer, keeping its first `filled` bytes. */
  protected grow(filled: number): void {
    const larger = Buffer.allocUnsafe(this.buffer.length * 2);
    this.buffer.copy(larger, 0, 0, filled);
    this.buffer = larger;
  }
}
