/**
 * Reads one CSV record again at the byte offset the source reported for it (see RecordReader in
 * source.ts): positioned reads from a file kept open, doubled until the record is whole, parsed by
 * csv-parse with the stream's options and checked as the stream checks it (csv-first-record.ts,
 * csv-record-parser.ts). What is no longer a record there comes back as an `invalid` item naming
 * the line, which the engine reports as the file having changed (stored-record.ts).
 */
import { readSync } from 'node:fs';
import type { Options } from 'csv-parse';
import { FirstRecordParser } from './csv-first-record.js';
import { csvErrorProblem, recordProblem, type RecordChecks } from './csv-record-parser.js';
import { FileRecordReader } from './file-record-reader.js';
import { recordNeverEnded } from './record-size.js';
import type { SourceItem, SourcePosition } from './source.js';

export class CsvRecordReader<T> extends FileRecordReader<T> {
  /** One csv-parse parser for every record read again (csv-first-record.ts says why). */
  private readonly parser: FirstRecordParser;

  constructor(
    path: string,
    /** csv-parse options of the data records (csv-layout.ts). */
    options: Options,
    private readonly checks: RecordChecks,
    /** The longest record read (csv's maxRecordBytes): a longer one is the invalid item the source gave. */
    private readonly maxRecordBytes: number,
  ) {
    super('csv', path);
    this.parser = new FirstRecordParser(options);
  }

  protected itemAt(fd: number, position: SourcePosition, offset: number): SourceItem<T> {
    const invalid = (problem: string): SourceItem<T> => ({
      kind: 'invalid',
      position,
      message: `line ${String(position.line)}: ${problem}`,
    });
    let filled = 0;
    for (;;) {
      let bytesRead = 0;
      do {
        bytesRead = readSync(fd, this.buffer, filled, this.buffer.length - filled, offset + filled);
        filled += bytesRead;
      } while (bytesRead > 0 && filled < this.buffer.length);
      const bytes = this.buffer.subarray(0, filled);
      const first = this.parser.parse(bytes, filled < this.buffer.length);
      // As the stream tells it (csv-record-parser.ts): a record longer than the limit, whether it ends
      // past it, or is still open there, or the file ends before it does (a quote error).
      const longer = first.kind === 'record' ? first.bytes > this.maxRecordBytes : filled > this.maxRecordBytes;
      if (longer) return invalid(recordNeverEnded(position.line ?? 0, this.maxRecordBytes));
      switch (first.kind) {
        case 'record': {
          const problem = recordProblem(first.record, bytes.subarray(0, first.bytes), position, this.checks);
          return problem === undefined
            ? { kind: 'record', position, value: first.record as T }
            : { kind: 'invalid', position, message: problem };
        }
        case 'error':
          return invalid(csvErrorProblem(first.error));
        case 'none':
          return invalid('no record there (the file ends before one)');
        case 'more':
          this.grow(filled);
      }
    }
  }
}
