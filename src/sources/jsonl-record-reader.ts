/**
 * Reads one JSON Lines record again at the byte offset the source reported for it (see
 * RecordReader in source.ts): one positioned read from a file kept open, doubled until the line's
 * end is in the buffer, then parsed as the source parses a line.
 */
import { readSync } from 'node:fs';
import { FileRecordReader } from './file-record-reader.js';
import type { SourceItem, SourcePosition } from './source.js';

const NEWLINE = 10;

export class JsonlRecordReader<T> extends FileRecordReader<T> {
  constructor(path: string) {
    super('jsonl', path);
  }

  protected itemAt(fd: number, position: SourcePosition, offset: number): SourceItem<T> {
    const text = this.lineAt(fd, offset);
    try {
      return { kind: 'record', position, value: JSON.parse(text) as T };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { kind: 'invalid', position, message: `line ${String(position.line)}: invalid JSON: ${reason}` };
    }
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
      if (filled === this.buffer.length) this.grow(filled);
    }
  }
}
