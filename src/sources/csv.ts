/**
 * CSV source, parsed by csv-parse. Seekable: a resume reads the header from the start of the file
 * (one record), then parses from the saved byte offset with those column names; a waiting record
 * is read again alone at its offset (csv-record-reader.ts).
 */
import { pipeline, Transform } from 'node:stream';
import type { Options } from 'csv-parse';
import { ConfigError } from '../errors.js';
import { checkKnownKeys } from '../validation/check.js';
import { readerParsing, readLayout, recordParsing, repeatedName } from './csv-layout.js';
import type { RecordParser } from './csv-record-parser.js';
import { checkNotShrunk, fileHeadHash, fingerprintFile, sampleFileAt, isSystemError, openSourceFile, unreadable } from './file-source.js';
import { DEFAULT_CHUNK_SIZE, lineNumberAt } from './line-reader.js';
import type { RecordReader, Source, SourceItem, SourcePosition } from './source.js';
import { resolveInvalidUtf8, type InvalidUtf8 } from './utf8.js';
import { bytesFrom } from './handle-stream.js';
import { resolveMaxRecordBytes } from './record-size.js';

/** Options of {@link csv}. The file must be UTF-8. */
export interface CsvOptions {
  /**
   * `true`: the first record is a header naming the fields, and records are objects keyed by it.
   * An array: these names, and the first line is already data. `false`: records are arrays of strings.
   * @default true
   */
  readonly columns?: boolean | readonly string[];
  /** Separates fields; one or more characters. @default ',' */
  readonly delimiter?: string;
  /** Encloses fields that contain delimiters, quotes or line breaks; one character, or '' for none. @default '"' */
  readonly quote?: string;
  /** Turns fields that look like numbers into numbers. @default false */
  readonly cast?: boolean;
  /** Skips empty lines (they still count as lines). @default true */
  readonly skipEmptyLines?: boolean;
  /** Skips a UTF-8 byte-order mark at the start of the file. @default true */
  readonly bom?: boolean;
  /** Accepts records with more or fewer fields than the header instead of reporting them invalid. @default false */
  readonly relaxColumnCount?: boolean;
  /** Accepts a quote inside an unquoted field (`5" screen`) as a plain character instead of an error. @default false */
  readonly relaxQuotes?: boolean;
  /** Removes spaces and tabs around unquoted fields. @default false */
  readonly trim?: boolean;
  /** Lines starting with this string are comments and skipped. @default undefined (no comments) */
  readonly comment?: string;
  /**
   * A record whose bytes are not valid UTF-8: `'fail'` reports it as an `invalid` record naming the
   * line and the byte offset; `'replace'` processes it with U+FFFD in place of the bad bytes.
   * @default 'fail'
   */
  readonly invalidUtf8?: InvalidUtf8;
  /**
   * A record still open this many bytes after its start (a quote opened and never closed) is an
   * `invalid` record, and reading goes on at the line after its first; so does a quote still open at
   * the end of the file. From 1 KiB to 256 MiB.
   * @default 67108864 (64 MiB)
   */
  readonly maxRecordBytes?: number;
  /**
   * Bytes read per system call. Exposed for tests, which use tiny values to make records span reads.
   * @internal
   * @default 65536
   */
  readonly chunkSize?: number;
}

const KNOWN = [
  'columns',
  'delimiter',
  'quote',
  'cast',
  'skipEmptyLines',
  'bom',
  'relaxColumnCount',
  'relaxQuotes',
  'trim',
  'comment',
  'chunkSize',
  'invalidUtf8',
  'maxRecordBytes',
];

export interface ResolvedCsv {
  readonly columns: boolean | readonly string[];
  readonly quote: string;
  readonly bom: boolean;
  readonly chunkSize: number;
  readonly checkUtf8: boolean;
  readonly maxRecordBytes: number;
  /** csv-parse options shared by the header read and the record parse. */
  readonly parse: Options;
}

/**
 * A source reading `path` as CSV. Each data record is one item: a record, or an `invalid` item
 * naming the line and the problem when it is malformed (wrong number of fields, bad quotes); reading
 * goes on with the next record. Positions: `seq` counts items from 0, `line` is the line where the
 * record starts (right for quoted fields spanning lines), `offset` the byte offset of its first byte.
 *
 * A quote that is never closed makes csv-parse read on as one field: that record is reported
 * invalid once the file ends or `maxRecordBytes` is reached, and reading goes on at the line after
 * its first, so the records it swallowed are read.
 *
 * @example csv<{ id: string; city: string }>('data/cities.csv')
 * @throws {ConfigError} for an unknown option or a bad value.
 */
export function csv<T = Record<string, string>>(path: string, options: CsvOptions = {}): Source<T> {
  const config = resolveCsvOptions(options);
  const description = `csv:${path}`;
  return {
    description,
    seekable: true,
    fingerprint: () => fingerprintFile('csv', path, description),
    sampleAt: (offset) => sampleFileAt('csv', path, offset),
    headHash: (length) => fileHeadHash('csv', path, length),
    read: (from, signal) => readCsv<T>(path, config, from, signal),
    openReader: () => openCsvReader<T>(path, config),
  };
}

function resolveCsvOptions(options: CsvOptions): ResolvedCsv {
  checkKnownKeys(options, 'csv', KNOWN);
  const fail = (field: string, expected: string, value: unknown): never => {
    throw new ConfigError(`csv.${field} must be ${expected}, got ${JSON.stringify(value)}`, { field: `csv.${field}` });
  };
  const { columns = true, delimiter = ',', quote = '"', comment, chunkSize = DEFAULT_CHUNK_SIZE } = options;
  const names = Array.isArray(columns) && columns.length > 0 && columns.every((c) => typeof c === 'string');
  if (typeof columns !== 'boolean' && !names) {
    fail('columns', 'true, false or a non-empty array of column names', columns);
  }
  const twice = Array.isArray(columns) ? repeatedName(columns) : undefined;
  if (twice !== undefined) {
    throw new ConfigError(
      `csv.columns names ${JSON.stringify(twice.name)} twice (columns ${twice.first} and ${twice.second}): one would overwrite the other in every record`,
      { field: 'csv.columns' },
    );
  }
  if (typeof delimiter !== 'string' || delimiter.length === 0) fail('delimiter', 'a non-empty string', delimiter);
  if (typeof quote !== 'string' || quote.length > 1) fail('quote', "one character, or '' for no quoting", quote);
  if (comment !== undefined && (typeof comment !== 'string' || comment.length === 0)) fail('comment', 'a non-empty string', comment);
  if (!Number.isInteger(chunkSize) || chunkSize < 1) fail('chunkSize', 'a positive integer', chunkSize);
  for (const field of ['cast', 'skipEmptyLines', 'bom', 'relaxColumnCount', 'relaxQuotes', 'trim'] as const) {
    if (options[field] !== undefined && typeof options[field] !== 'boolean') fail(field, 'a boolean', options[field]);
  }
  const parse: Options = {
    delimiter,
    quote: quote === '' ? false : quote,
    // csv-parse's escape defaults to '"' whatever the quote; doubling the quote is what CSV means.
    escape: quote === '' ? false : quote,
    cast: options.cast ?? false,
    skip_empty_lines: options.skipEmptyLines ?? true,
    relax_column_count: options.relaxColumnCount ?? false,
    relax_quotes: options.relaxQuotes ?? false,
    trim: options.trim ?? false,
    ...(comment === undefined ? {} : { comment }),
    // The byte-order mark is skipped here, before csv-parse sees the bytes, so offsets stay file offsets.
    bom: false,
  };
  const checkUtf8 = resolveInvalidUtf8('csv', options.invalidUtf8) === 'fail';
  const maxRecordBytes = resolveMaxRecordBytes('csv', options.maxRecordBytes);
  return Object.freeze({ columns, quote, bom: options.bom ?? true, chunkSize, checkUtf8, maxRecordBytes, parse });
}

async function* readCsv<T>(
  path: string,
  config: ResolvedCsv,
  from: SourcePosition | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<SourceItem<T>> {
  signal?.throwIfAborted();
  const { handle, size } = await openSourceFile('csv', path);
  let parser: RecordParser | undefined;
  try {
    const layout = await readLayout(handle, config, path);
    if (layout === undefined) return;
    // Without an offset (a position from elsewhere) the only way to find `from.seq` is to count up to it.
    const seeking = from?.offset !== undefined;
    const offset = seeking ? (from?.offset ?? 0) : layout.dataStart;
    const line = seeking ? (from?.line ?? (await lineNumberAt(handle, offset))) : layout.dataLine;
    const skipBelow = seeking ? 0 : (from?.seq ?? 0);
    // csv-parse is loaded when a CSV file is read, not when batchguard is imported (start-up time).
    const { RecordParser } = await import('./csv-record-parser.js');
    const parsing = recordParsing(config, layout);
    let start: SourcePosition | undefined = { seq: seeking ? (from?.seq ?? 0) : 0, line, offset };
    // A record that never ended (csv-record-parser.ts, restartAt) ends its parser: a new one reads on after it.
    while (start !== undefined) {
      parser?.destroy();
      parser = new RecordParser(parsing.options, {
        offset: start.offset ?? 0,
        line: start.line ?? 1,
        seq: start.seq,
        quote: config.quote,
        maxRecordBytes: config.maxRecordBytes,
        ...parsing.checks,
      });
      const input = bytesFrom(handle, start.offset ?? 0, config.chunkSize);
      // Errors of any stream reach the loop below through the parser, which pipeline destroys with them.
      pipeline(
        input,
        checkedAtEnd(() => checkNotShrunk(handle, `csv:${path}`, size)),
        parser,
        () => undefined,
      );
      for await (const item of parser as AsyncIterable<SourceItem<T>>) {
        signal?.throwIfAborted();
        if (item.position.seq >= skipBelow) yield item;
      }
      start = parser.restartAt;
    }
  } catch (error) {
    throw isSystemError(error) ? unreadable('csv', path, error) : error;
  } finally {
    // Runs on exhaustion, on error, and when the consumer stops early; destroying the parser
    // destroys the file's stream too (pipeline), and close() waits for a read in flight.
    parser?.destroy();
    await handle.close();
  }
}

/**
 * The bytes as they come, and `check()` at their end before the parser gets its end (and with it
 * the last row, which it holds until then): a row cut in two by a truncation is never parsed.
 */
function checkedAtEnd(check: () => Promise<void>): Transform {
  return new Transform({
    transform: (chunk: Buffer, _encoding, done) => done(null, chunk),
    flush: (done) => {
      check().then(() => done(), done);
    },
  });
}

/** A reader of single records by position (see RecordReader), with the layout of the file as it is now. */
async function openCsvReader<T>(path: string, config: ResolvedCsv): Promise<RecordReader<T>> {
  const { handle } = await openSourceFile('csv', path);
  let parsing: Awaited<ReturnType<typeof readerParsing>>;
  try {
    parsing = await readerParsing(handle, config, path);
  } catch (error) {
    throw isSystemError(error) ? unreadable('csv', path, error) : error;
  } finally {
    await handle.close();
  }
  const { CsvRecordReader } = await import('./csv-record-reader.js');
  return new CsvRecordReader<T>(path, parsing.options, parsing.checks, config.maxRecordBytes);
}
