/**
 * Reads one JSON Lines record again at the byte offset the source reported for it (see
 * RecordReader in source.ts): one positioned read from a file kept open, doubled until the line's
 * end is in the buffer, then parsed as the source parses a line.
 */
import { readSync } from 'node:fs';
import { FileRecordReader } from './file-record-reader.js';
import { lineTooLong } from './record-size.js';
import type { SourceItem, SourcePosition } from './source.js';

const NEWLINE = 10;

export class JsonlRecordReader<T> extends FileRecordReader<T> {
  constructor(
    path: string,
    /** The longest line read (jsonl's maxRecordBytes): a longer one is the invalid item the source gave. */
    private readonly maxRecordBytes: number,
  ) {
    super('jsonl', path);
  }

  protected itemAt(fd: number, position: SourcePosition, offset: number): SourceItem<T> {
    const text = this.lineAt(fd, offset);
    if (text === undefined) return { kind: 'invalid', position, message: lineTooLong(position.line ?? 0, this.maxRecordBytes) };
    try {
      return { kind: 'record', position, value: JSON.parse(text) as T };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { kind: 'invalid', position, message: `line ${String(position.line)}: invalid JSON: ${reason}` };
    }
  }

  /** The text of the line starting at `offset`, without its line break; undefined when it is longer than maxRecordBytes. */
  private lineAt(fd: number, offset: number): string | undefined {
    let filled = 0;
    for (;;) {
      const bytesRead = readSync(fd, this.buffer, filled, this.buffer.length - filled, offset + filled);
      const searchFrom = filled;
      filled += bytesRead;
      const found = this.buffer.subarray(searchFrom, filled).indexOf(NEWLINE);
      const end = found === -1 ? (bytesRead === 0 ? filled : -1) : searchFrom + found;
      // As the source measures it: the line's bytes, a carriage return before the newline included.
      if (end !== -1) return end > this.maxRecordBytes ? undefined : this.buffer.toString('utf8', 0, end);
      if (filled > this.maxRecordBytes) return undefined;
      if (filled === this.buffer.length) this.grow(filled);
    }
  }
}
