/**
 * JSON Lines source: one JSON value per line. The hot path of large jobs, so it reads with a
 * reusable buffer (see line-reader.ts) rather than `readline`, and seeks by byte offset on resume.
 */
import type { FileHandle } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { checkNotShrunk, fileHeadHash, fingerprintFile, sampleFileAt, isSystemError, openSourceFile, unreadable } from './file-source.js';
import { JsonlRecordReader } from './jsonl-record-reader.js';
import { DEFAULT_CHUNK_SIZE, LineReader, lineNumberAt } from './line-reader.js';
import { lineTooLong, resolveMaxRecordBytes } from './record-size.js';
import type { BufferedItemIterator, Source, SourceItem, SourcePosition } from './source.js';
import { firstInvalidUtf8, invalidUtf8Message, resolveInvalidUtf8, type InvalidUtf8 } from './utf8.js';

/** Options of {@link jsonl}. */
export interface JsonlOptions {
  /** Text encoding of the file; only UTF-8 is supported (a leading byte-order mark is skipped). @default 'utf8' */
  readonly encoding?: 'utf8';
  /**
   * A line whose bytes are not valid UTF-8: `'fail'` reports it as an `invalid` record naming the
   * line and the byte offset; `'replace'` processes it with U+FFFD in place of the bad bytes.
   * @default 'fail'
   */
  readonly invalidUtf8?: InvalidUtf8;
  /**
   * A line longer than this many bytes is an `invalid` record naming its line, and is not read
   * (its bytes are skipped); reading goes on. From 1 KiB to 256 MiB.
   * @default 67108864 (64 MiB)
   */
  readonly maxRecordBytes?: number;
  /**
   * Bytes read per system call. Exposed for tests, which use tiny values to make lines span reads.
   * @internal
   * @default 65536
   */
  readonly chunkSize?: number;
}

/** Longest `raw` text kept on an invalid item: enough to recognise the line, bounded for reports. */
const RAW_MAX_CHARS = 200;

/**
 * A source reading `path` as JSON Lines. Each non-blank line is one item: a record with the parsed
 * value, or an `invalid` item when the line is not valid JSON (reading goes on). Blank lines count
 * as lines but are not items. Positions: `seq` counts items from 0, `line` is the 1-based physical
 * line, `offset` the byte offset of the line's first byte; `read(from)` seeks to `from.offset`.
 *
 * @example jsonl<City>('data/cities.jsonl')
 * @throws {ConfigError} for an unsupported option value.
 */
export function jsonl<T = unknown>(path: string, options: JsonlOptions = {}): Source<T> {
  const reading = resolveJsonlOptions(options);
  const checkUtf8 = resolveInvalidUtf8('jsonl', options.invalidUtf8) === 'fail';
  const description = `jsonl:${path}`;
  return {
    description,
    seekable: true,
    fingerprint: () => fingerprintFile('jsonl', path, description),
    sampleAt: (offset) => sampleFileAt('jsonl', path, offset),
    headHash: (length) => fileHeadHash('jsonl', path, length),
    read: (from, signal) => new JsonlIterator<T>(path, reading, from, signal, checkUtf8),
    // Every non-blank line is an item, parsed or not: its position needs no parse.
    positions: (signal) => new JsonlIterator<unknown>(path, reading, undefined, signal, false, false),
    openReader: () => Promise.resolve(new JsonlRecordReader<T>(path, reading.maxRecordBytes)),
  };
}

/** How a JSON Lines file is read: bytes a system call, and the longest line read. */
interface JsonlReading {
  readonly chunkSize: number;
  readonly maxRecordBytes: number;
}

function resolveJsonlOptions(options: JsonlOptions): JsonlReading {
  if (options.encoding !== undefined && options.encoding !== 'utf8') {
    throw new ConfigError(`jsonl.encoding must be 'utf8', got ${JSON.stringify(options.encoding)}`, {
      field: 'jsonl.encoding',
    });
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new ConfigError(`jsonl.chunkSize must be a positive integer, got ${String(chunkSize)}`, {
      field: 'jsonl.chunkSize',
    });
  }
  return { chunkSize, maxRecordBytes: resolveMaxRecordBytes('jsonl', options.maxRecordBytes) };
}

/**
 * The iterator behind `read()`. Hand-written rather than an async generator: over 1M lines the
 * generator's resumption per item cost ~25% of the whole read (1,040 ms against 800 ms); here an item that is already in the
 * current chunk is returned as a resolved promise, and only chunk reads take the async path.
 */
class JsonlIterator<T> implements AsyncIterableIterator<SourceItem<T>>, BufferedItemIterator<T> {
  private handle: FileHandle | undefined;
  private lines: LineReader | undefined;
  private finished = false;
  /** The async step in progress; calls that arrive meanwhile queue behind it. */
  private busy: Promise<unknown> | undefined;
  private seq: number;
  /** Without an offset (a position from elsewhere) the only way to find `from.seq` is to count up to it. */
  private readonly seeking: boolean;
  private readonly skipBelow: number;
  /** What nextBuffered() could not hand out: the next call of next() throws it. */
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly path: string,
    private readonly reading: JsonlReading,
    private readonly from: SourcePosition | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly checkUtf8: boolean,
    /** False: the items' positions only, each line's text neither checked nor parsed (Source.positions). */
    private readonly parse = true,
  ) {
    this.seeking = from?.offset !== undefined;
    this.seq = this.seeking ? (from?.seq ?? 0) : 0;
    this.skipBelow = this.seeking ? 0 : (from?.seq ?? 0);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  nextBuffered(): SourceItem<T> | undefined {
    if (this.busy !== undefined || this.lines === undefined || this.finished) return undefined;
    try {
      return this.produce(this.lines);
    } catch (error) {
      // The run's signal aborted: next() throws it.
      this.failure = { error };
      return undefined;
    }
  }

  next(): Promise<IteratorResult<SourceItem<T>>> {
    const failure = this.failure;
    if (failure !== undefined) {
      this.failure = undefined;
      return this.queue(() => this.fail(failure.error));
    }
    if (this.busy === undefined && this.lines !== undefined && !this.finished) {
      let item: SourceItem<T> | undefined;
      try {
        item = this.produce(this.lines);
      } catch (error) {
        return this.queue(() => this.fail(error));
      }
      if (item !== undefined) return Promise.resolve({ done: false, value: item });
    }
    return this.queue(() => this.advance());
  }

  /** Stops early (a `break` in `for await`): closes the file. */
  return(): Promise<IteratorResult<SourceItem<T>>> {
    return this.queue(async () => {
      await this.close();
      return { done: true, value: undefined };
    });
  }

  private queue<R>(step: () => Promise<R>): Promise<R> {
    const previous = this.busy;
    const run = previous === undefined ? step() : previous.then(step, step);
    // Cleared before the caller sees the result, so the next call can take the synchronous path.
    const tracked: Promise<R> = run.finally(() => {
      if (this.busy === tracked) this.busy = undefined;
    });
    this.busy = tracked;
    return tracked;
  }

  private async advance(): Promise<IteratorResult<SourceItem<T>>> {
    try {
      if (this.finished) return { done: true, value: undefined };
      const lines = this.lines ?? (await this.open());
      for (;;) {
        const item = this.produce(lines);
        if (item !== undefined) return { done: false, value: item };
        if (!(await lines.fill())) {
          await this.close();
          return { done: true, value: undefined };
        }
      }
    } catch (error) {
      return this.fail(isSystemError(error) ? unreadable('jsonl', this.path, error) : error);
    }
  }

  private async open(): Promise<LineReader> {
    this.signal?.throwIfAborted();
    const { handle, size } = await openSourceFile('jsonl', this.path);
    this.handle = handle;
    const start = this.seeking ? (this.from?.offset ?? 0) : 0;
    const firstLine = this.seeking ? (this.from?.line ?? (await lineNumberAt(handle, start))) : 1;
    const atEnd = (): Promise<void> => checkNotShrunk(handle, `jsonl:${this.path}`, size);
    const { chunkSize, maxRecordBytes } = this.reading;
    this.lines = new LineReader(handle, { start, firstLine, chunkSize, checkUtf8: this.checkUtf8, atEnd, maxLineBytes: maxRecordBytes });
    return this.lines;
  }

  /** The next item of the current chunk, or undefined when the chunk is used up. */
  private produce(lines: LineReader): SourceItem<T> | undefined {
    while (lines.next()) {
      if (this.signal?.aborted) this.signal.throwIfAborted();
      const text = lines.text;
      // A line too long to read has no text (line-reader.ts), and is no blank line.
      if (isBlank(text) && !lines.tooLong) continue;
      const position: SourcePosition = { seq: this.seq++, line: lines.lineNumber, offset: lines.offset };
      if (position.seq < this.skipBelow) continue;
      if (!this.parse) return { kind: 'record', position, value: undefined as T };
      if (lines.invalidUtf8 && text.includes('\uFFFD')) {
        const bytes = lines.lineBytes();
        const at = firstInvalidUtf8(bytes);
        if (at !== -1)
          return {
            kind: 'invalid',
            position,
            message: invalidUtf8Message('jsonl', position.line, lines.offset, bytes, at),
            raw: text.slice(0, RAW_MAX_CHARS),
          };
      }
      try {
        return { kind: 'record', position, value: JSON.parse(text) as T };
      } catch (error) {
        // Its empty text is no JSON: the check costs the records that parse nothing.
        if (lines.tooLong) return { kind: 'invalid', position, message: lineTooLong(lines.lineNumber, this.reading.maxRecordBytes) };
        return invalidLine(position, text, error);
      }
    }
    return undefined;
  }

  private async fail(error: unknown): Promise<never> {
    await this.close();
    throw error;
  }

  private async close(): Promise<void> {
    this.finished = true;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

/** Empty or whitespace-only; the trim only runs for the rare line that starts with whitespace. */
function isBlank(text: string): boolean {
  return text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim().length === 0);
}

function invalidLine<T>(position: SourcePosition, text: string, error: unknown): SourceItem<T> {
  const reason = error instanceof Error ? error.message : String(error);
  return {
    kind: 'invalid',
    position,
    message: `line ${String(position.line)}: invalid JSON: ${reason}`,
    raw: text.length > RAW_MAX_CHARS ? text.slice(0, RAW_MAX_CHARS) : text,
  };
}
