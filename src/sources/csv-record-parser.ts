/**
 * csv-parse's stream parser, extended to tag every record with its true position (seq, the line
 * where it starts, the byte offset of its first byte) and to turn skipped malformed records into
 * `invalid` items in stream order.
 *
 * Why it works this way (measured and read in csv-parse 6.2 over 1M rows):
 * - csv-parse's `info`/`on_record` options double the parse time (an info object per record), so
 *   positions come from `parser.info` (public, live) read inside `push`, which csv-parse calls
 *   synchronously as each record ends; `info.bytes` is then the record's end, in bytes.
 * - csv-parse only knows where a record ends. Its start is the previous end plus the empty and
 *   comment lines skipped since (`info.empty_lines`, `info.comment_lines`), found in the bytes we keep.
 * - `info.lines` counts a CRLF inside a quoted field as two lines, so lines are counted here.
 * - After a quote error, csv-parse reports nothing at the end of the broken record, so the next
 *   record's start is found backwards from its end: the nearest line start after which the quote
 *   characters balance (a line break inside a quoted field always has an odd number after it).
 */
import type { TransformCallback } from 'node:stream';
import { Parser, type CsvError, type Options } from 'csv-parse';
import type { SourceItem, SourcePosition } from './source.js';
import { firstInvalidUtf8, invalidUtf8Message, validUtf8 } from './utf8.js';
import { recordNeverEnded } from './record-size.js';

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;
const RAW_MAX_CHARS = 200;

/** Where a {@link RecordParser} starts, and the checks csv-parse cannot do for it. */
export interface RecordParserStart {
  /** File offset of the first byte fed to the parser; the start of a record. */
  readonly offset: number;
  readonly line: number;
  readonly seq: number;
  /** With `columns: false`: every record must have this many fields (the first record's count). */
  readonly fieldCount?: number | undefined;
  /** The quote character, or '' when quoting is off. */
  readonly quote: string;
  /** Report a record whose bytes are not valid UTF-8 as invalid (instead of letting U+FFFD replace them). @default false */
  readonly checkUtf8?: boolean;
  /** A record still open this many bytes after its start is invalid; parsing starts again at its second line (record-size.ts). */
  readonly maxRecordBytes: number;
}

/** What a record csv-parse accepted must also pass; see {@link recordProblem}. */
export type RecordChecks = Pick<RecordParserStart, 'fieldCount' | 'checkUtf8'>;

/**
 * What is wrong with a record csv-parse accepted, as the message of its `invalid` item: a field
 * count other than the first record's (with `fieldCount`), or bytes that are not valid UTF-8 (with
 * `checkUtf8`). `bytes` are the record's, from `position.offset` on.
 */
export function recordProblem(record: unknown, bytes: Buffer, position: SourcePosition, checks: RecordChecks): string | undefined {
  const line = String(position.line);
  if (checks.fieldCount !== undefined && Array.isArray(record) && record.length !== checks.fieldCount) {
    return `line ${line}: Invalid Record Length: expected ${checks.fieldCount} fields as in the first record, got ${record.length}`;
  }
  if (checks.checkUtf8 && !validUtf8(bytes)) {
    const at = firstInvalidUtf8(bytes);
    return at === -1 ? `line ${line}: invalid UTF-8` : invalidUtf8Message('csv', position.line, position.offset ?? 0, bytes, at);
  }
  return undefined;
}

/** A csv-parse error as the problem of an `invalid` item: its message without csv-parse's line count (lines are counted here), and its code. */
export function csvErrorProblem(error: Error): string {
  return `${error.message.replace(/ (?:on|at) line \d+/g, '')} (${String((error as { code?: unknown }).code)})`;
}

/** A csv-parse `Parser` whose readable side yields `SourceItem`s. */
export class RecordParser extends Parser {
  /** The bytes from `cursor` on that csv-parse has been given, at file offset `windowStart`; a view of `store`. */
  private window: Buffer = Buffer.alloc(0);
  private store: Buffer = Buffer.alloc(0);
  private windowStart: number;
  /** An offset whose line number is known: the start of the last item. Only moves forward. */
  private cursor: number;
  private cursorLine: number;
  /** End of the last record whose end is known; undefined after a quote error, until the next record. */
  private previousEnd: number | undefined;
  /** Start of the record where the last quote error was found. */
  private brokenStart = -1;
  /** Empty and comment lines csv-parse had skipped at `previousEnd`. */
  private skippedLines = 0;
  private seq: number;
  private terminator = NEWLINE;
  private readonly quoteByte: number | undefined;
  private readonly fieldCount: number | undefined;
  /**
   * Where parsing must start again with a new parser, when a record never ended (a quote opened and
   * not closed, before the end of the file or for longer than maxRecordBytes): the line after the
   * first of that record. Once set, this parser has ended and takes no more input.
   */
  restartAt: SourcePosition | undefined;
  /** True once this parser ended early (a restart, or a record that never ended before the file did). */
  private stopped = false;
  /** File offset just after the last byte given to this parser. */
  private fedEnd: number;
  /** A record too long whose first line has not ended yet: its end is looked for in the bytes that come. */
  private findingLineEnd = false;

  constructor(
    options: Options,
    private readonly start: RecordParserStart,
  ) {
    super({ ...options, skip_records_with_error: true });
    this.windowStart = this.cursor = this.previousEnd = this.fedEnd = start.offset;
    this.cursorLine = start.line;
    this.seq = start.seq;
    this.quoteByte = start.quote === '' ? undefined : Buffer.from(start.quote)[0];
    this.fieldCount = start.fieldCount;
    // Parser emits 'skip' synchronously, in stream order, for each record skipped with an error.
    this.on('skip', (error: CsvError) => this.onSkip(error));
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    const chunkStart = this.fedEnd;
    this.fedEnd += chunk.length;
    if (this.stopped || this.findingLineEnd) {
      const index = this.stopped ? -1 : chunk.indexOf(this.terminator);
      if (index !== -1) this.restart(chunkStart + index + 1);
      callback();
      return;
    }
    // Keep the bytes from `cursor` on, in a buffer that grows by doubling: a record of many
    // megabytes then costs linear time, where concatenating on every chunk would be quadratic.
    const drop = Math.min(this.cursor - this.windowStart, this.window.length);
    const keep = this.window.length - drop;
    if (keep + chunk.length > this.store.length) {
      const larger = Buffer.allocUnsafe(Math.max(this.store.length * 2, keep + chunk.length));
      this.window.copy(larger, 0, drop);
      this.store = larger;
    } else if (drop > 0) {
      this.window.copy(this.store, 0, drop);
    }
    chunk.copy(this.store, keep);
    this.window = this.store.subarray(0, keep + chunk.length);
    this.windowStart += drop;
    super._transform(chunk, encoding, callback);
    if (!this.stopped && this.fedEnd - (this.previousEnd ?? this.brokenStart) > this.start.maxRecordBytes) this.recordTooLong();
  }

  override _flush(callback: TransformCallback): void {
    // The file ended inside the first line of a record too long, already reported: nothing follows.
    if (this.findingLineEnd) {
      this.stop();
      callback();
      return;
    }
    super._flush(callback);
  }

  /**
   * More than maxRecordBytes have come since the last record ended. When the record that started
   * after it is longer than that (a record whose end has not come, or the record a quote error was
   * reported for already), it is invalid, and parsing starts again at its second line.
   */
  private recordTooLong(): void {
    if (this.previousEnd === undefined) {
      this.restartAfterLine(this.brokenStart);
      return;
    }
    const start = this.afterSkippedLines();
    if (this.fedEnd - start <= this.start.maxRecordBytes) return;
    const position = this.positionAt(start);
    super.push(this.invalid(position, undefined, recordNeverEnded(position.line ?? 0, this.start.maxRecordBytes)));
    this.restartAfterLine(start);
  }

  /** Parsing starts again at the line after the one starting at `start`, once that line's end has come. */
  private restartAfterLine(start: number): void {
    const index = this.window.indexOf(this.terminator, start - this.windowStart);
    if (index !== -1) this.restart(this.windowStart + index + 1);
    else this.findingLineEnd = true;
  }

  /** Ends this parser: a new one starts at `offset`, the start of the line after the broken record's first (see restartAt). */
  private restart(offset: number): void {
    this.restartAt = { seq: this.seq, line: this.cursorLine + 1, offset };
    this.stop();
  }

  private stop(): void {
    this.stopped = true;
    super.push(null);
  }

  /** csv-parse calls this for every record, synchronously, while `info` still describes that record. */
  override push(record: unknown, encoding?: BufferEncoding): boolean {
    // Ended early: what csv-parse still makes of the bytes of the broken record is dropped.
    if (this.stopped) return false;
    if (record === null) return super.push(null, encoding);
    const end = this.start.offset + this.info.bytes;
    this.learnTerminator();
    const start = this.previousEnd !== undefined ? this.afterSkippedLines() : this.startAfterBreak(end);
    const position = this.positionAt(start);
    this.ended(end);
    // Ended within the bytes of the read that crossed the limit: too long all the same (see recordTooLong).
    if (end - start > this.start.maxRecordBytes) {
      super.push(this.invalid(position, undefined, recordNeverEnded(position.line ?? 0, this.start.maxRecordBytes)));
      this.restartAfterLine(start);
      return false;
    }
    if (this.fieldCount !== undefined || this.start.checkUtf8) {
      const from = Math.max(0, start - this.windowStart);
      const bytes = this.window.subarray(from, Math.max(from, end - this.windowStart));
      const message = recordProblem(record, bytes, position, this.start);
      if (message !== undefined) return super.push({ ...this.invalid(position, end, ''), message });
    }
    return super.push({ kind: 'record', position, value: record } satisfies SourceItem<unknown>);
  }

  private onSkip(error: CsvError): void {
    if (this.stopped) return;
    this.learnTerminator();
    const bytes = this.start.offset + Number(error['bytes'] ?? 0);
    const problem = csvErrorProblem(error);
    if (error.code === 'CSV_RECORD_INCONSISTENT_COLUMNS' || error.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
      // Found at the end of the record: `bytes` is its end.
      let start: number | undefined;
      if (this.previousEnd !== undefined) start = this.afterSkippedLines();
      // Unbalanced quotes back to the broken record: the same record, already reported.
      else start = this.startBefore(bytes, this.brokenStart + 1);
      if (start !== undefined) super.push(this.invalid(this.positionAt(start), bytes, problem));
      this.ended(bytes);
      return;
    }
    // A quote problem, found inside the record; csv-parse goes on to the record's end without telling us where.
    let start: number;
    if (this.previousEnd !== undefined) start = this.afterSkippedLines();
    else {
      // Another error after a quote error: a new record if it starts on a later line (`bytes` is the
      // last field or record end csv-parse saw before this error).
      start = this.skipBlankLines(this.lineStartAt(bytes));
      if (start <= this.brokenStart) {
        if (error.code === 'CSV_QUOTE_NOT_CLOSED') this.restartAfterEnd(this.brokenStart);
        return;
      }
    }
    super.push(this.invalid(this.positionAt(start), undefined, problem));
    this.brokenStart = start;
    this.previousEnd = undefined;
    if (error.code === 'CSV_QUOTE_NOT_CLOSED') this.restartAfterEnd(start);
  }

  /**
   * At the end of the file, csv-parse says a quote opened in the record at `start` never closed: it
   * swallowed every line after it. Parsing starts again at the line after its first, if there is one.
   */
  private restartAfterEnd(start: number): void {
    const next = this.lineEnd(start) + 1;
    if (next < this.fedEnd) this.restart(next);
    else this.stop();
  }

  private ended(end: number): void {
    this.previousEnd = end;
    this.skippedLines = this.info.empty_lines + this.info.comment_lines;
  }

  private positionAt(start: number): SourcePosition {
    this.cursorLine += this.count(this.terminator, this.cursor, start);
    this.cursor = start;
    return { seq: this.seq++, line: this.cursorLine, offset: start };
  }

  private invalid(position: SourcePosition, end: number | undefined, problem: string): SourceItem<unknown> {
    const start = position.offset ?? this.cursor;
    const stop = end ?? this.lineEnd(start);
    const raw = this.text(start, Math.min(stop, start + RAW_MAX_CHARS * 4)).replace(/\r?\n$/, '');
    return {
      kind: 'invalid',
      position,
      message: `line ${String(position.line)}: ${problem}`,
      raw: raw.length > RAW_MAX_CHARS ? raw.slice(0, RAW_MAX_CHARS) : raw,
    };
  }

  /** The record starts after the empty and comment lines csv-parse skipped since the previous end. */
  private afterSkippedLines(): number {
    let start = this.previousEnd ?? this.cursor;
    const skipped = this.info.empty_lines + this.info.comment_lines - this.skippedLines;
    for (let i = 0; i < skipped; i++) start = this.lineEnd(start) + 1;
    return start;
  }

  /** The first record after a quote error: balanced quotes back from its end, or its last line. */
  private startAfterBreak(end: number): number {
    const bound = this.brokenStart + 1;
    return this.startBefore(end, bound) ?? Math.max(bound, this.lineStartAt(end - 2));
  }

  /** The nearest line start at or after `bound` from which the quotes up to `end` balance. */
  private startBefore(end: number, bound: number): number | undefined {
    for (let at = end - 2; at >= bound - 1;) {
      const start = this.lineStartAt(at);
      if (start < bound) return undefined;
      if (this.count(this.quoteByte, start, end) % 2 === 0) return start;
      if (start <= this.windowStart) return undefined;
      at = start - 2;
    }
    return undefined;
  }

  /** The start of the line holding the byte at `offset`. */
  private lineStartAt(offset: number): number {
    if (offset < this.windowStart) return this.windowStart;
    const index = this.window.lastIndexOf(this.terminator, offset - this.windowStart);
    return index === -1 ? this.windowStart : this.windowStart + index + 1;
  }

  /** The offset of the terminator of the line starting at `start` (or the end of the bytes we have). */
  private lineEnd(start: number): number {
    const index = this.window.indexOf(this.terminator, start - this.windowStart);
    return index === -1 ? this.windowStart + this.window.length : this.windowStart + index;
  }

  private skipBlankLines(start: number): number {
    for (;;) {
      const byte = this.window[start - this.windowStart];
      const blank = byte === this.terminator || (byte === CARRIAGE_RETURN && this.window[start + 1 - this.windowStart] === NEWLINE);
      if (!blank) return start;
      start = this.lineEnd(start) + 1;
    }
  }

  /** Occurrences of `byte` in [from, to). */
  private count(byte: number | undefined, from: number, to: number): number {
    if (byte === undefined) return 0;
    const base = this.windowStart;
    let n = 0;
    for (let i = this.window.indexOf(byte, from - base); i !== -1 && i < to - base; i = this.window.indexOf(byte, i + 1)) n++;
    return n;
  }

  private text(from: number, to: number): string {
    return this.window.toString('utf8', Math.max(0, from - this.windowStart), Math.max(0, to - this.windowStart));
  }

  /** Lines end at '\n' (LF and CRLF files) or '\r' (old Mac files), as csv-parse discovered. */
  private learnTerminator(): void {
    const delimiter = this.options.record_delimiter[0];
    this.terminator = delimiter !== undefined && delimiter[delimiter.length - 1] === CARRIAGE_RETURN ? CARRIAGE_RETURN : NEWLINE;
  }
}
