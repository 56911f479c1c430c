/**
 * What the start of a CSV file says: the column names of its header (or the field count of its
 * first record, with `columns: false`), where its data begins, and the csv-parse options that parse
 * its records, for the stream (csv.ts) and for reading one record again (csv-record-reader.ts).
 */
import type { FileHandle } from 'node:fs/promises';
import type { Options } from 'csv-parse';
import { SourceError } from '../errors.js';
import type { ResolvedCsv } from './csv.js';
import type { RecordChecks } from './csv-record-parser.js';
import { readAt } from './file-source.js';

export interface Layout {
  /** Column names for csv-parse, or false for arrays. */
  readonly columns: false | string[];
  /** With `columns: false`, the number of fields of the file's first record. */
  readonly fieldCount?: number;
  /** Offset and line number of the first data record (past the byte-order mark and the header). */
  readonly dataStart: number;
  readonly dataLine: number;
}

/** What the start of the file says: the header, or the first record's field count. Undefined when there is no record. */
export async function readLayout(handle: FileHandle, config: ResolvedCsv, path: string): Promise<Layout | undefined> {
  if (Array.isArray(config.columns)) {
    return { columns: [...config.columns], dataStart: bomLength(config, await readAt(handle, 0, 3)), dataLine: 1 };
  }
  const first = await readFirstRecord(handle, config, path);
  if (first === undefined) return undefined;
  if (config.columns === false) return { columns: false, fieldCount: first.fields.length, dataStart: first.bomLength, dataLine: 1 };
  const twice = repeatedName(first.fields);
  if (twice !== undefined) {
    throw new SourceError(
      'SOURCE_UNREADABLE',
      `cannot read csv source ${path}: its header (line 1) names the column ${JSON.stringify(twice.name)} twice (fields ${twice.first} and ${twice.second}), ` +
        'so one would overwrite the other in every record; rename one, or name the columns with csv(path, { columns: [...] })',
    );
  }
  return { columns: first.fields, dataStart: first.end, dataLine: first.nextLine };
}

/** The first name given twice, with the 1-based places of both; undefined when each is given once. */
export function repeatedName(names: readonly string[]): { name: string; first: number; second: number } | undefined {
  const seen = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const earlier = seen.get(name);
    if (earlier !== undefined) return { name, first: earlier + 1, second: i + 1 };
    seen.set(name, i);
  }
  return undefined;
}

interface FirstRecord {
  readonly bomLength: number;
  readonly fields: string[];
  /** Offset just past the record and its line break, and the line number there. */
  readonly end: number;
  readonly nextLine: number;
}

/** Beyond this, a first record is taken for an unclosed quote rather than read whole into memory. */
const MAX_FIRST_RECORD_BYTES = 16 * 1024 * 1024;

/** Parses the first record from a prefix of the file, doubling the prefix until the record is whole. */
async function readFirstRecord(handle: FileHandle, config: ResolvedCsv, path: string): Promise<FirstRecord | undefined> {
  const malformed = (reason: string, cause?: unknown): SourceError =>
    new SourceError('SOURCE_UNREADABLE', `cannot read csv source ${path}: its first record is malformed: ${reason}`, { cause });
  const { firstRecord } = await import('./csv-first-record.js');
  for (let size = Math.max(config.chunkSize, 4096); ; size *= 2) {
    if (size > 2 * MAX_FIRST_RECORD_BYTES) throw malformed('it is longer than 16 MiB (an unclosed quote?)');
    const prefix = await readAt(handle, 0, size);
    const whole = prefix.length < size;
    const bom = bomLength(config, prefix);
    const first = firstRecord(prefix.subarray(bom), whole, { ...config.parse, columns: false, cast: false, relax_column_count: true });
    if (first.kind === 'none') return undefined;
    if (first.kind === 'more') continue;
    if (first.kind === 'error') throw malformed(first.error.message, first.error);
    const end = bom + first.bytes;
    const terminator = prefix[end - 1] === 13 ? 13 : 10;
    let nextLine = 1;
    for (let i = prefix.indexOf(terminator); i !== -1 && i < end; i = prefix.indexOf(terminator, i + 1)) nextLine++;
    return { bomLength: bom, fields: first.record as string[], end, nextLine };
  }
}

function bomLength(config: ResolvedCsv, head: Buffer): number {
  return config.bom && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
}

/** The csv-parse options of the file's data records, and the checks csv-parse cannot do for them. */
export function recordParsing(config: ResolvedCsv, layout: Layout): { readonly options: Options; readonly checks: RecordChecks } {
  const columns = layout.columns;
  return {
    // With columns: false, csv-parse would take the field count from the first record it sees, which
    // after a seek is not the file's first; the parser checks the file's count instead.
    options: { ...config.parse, columns, ...(columns === false ? { relax_column_count: true } : {}) },
    checks: { fieldCount: layout.fieldCount, checkUtf8: config.checkUtf8 },
  };
}

/** Bytes read to find the line break of the first data record; a longer record keeps csv-parse's discovery. */
const DELIMITER_PROBE_BYTES = 64 * 1024;

/**
 * The parsing of single records read again (csv-record-reader.ts): the stream's, with the line
 * break that ends the first data record given to csv-parse. The stream has csv-parse discover it
 * once, at its start; a parse of one record would discover it again, at a cost of three buffers
 * made per byte until the line break (measured: most of the ~35 µs a record took to read again).
 */
export async function readerParsing(handle: FileHandle, config: ResolvedCsv, path: string): Promise<ReturnType<typeof recordParsing>> {
  const layout = await readLayout(handle, config, path);
  // A file without records has no record to read again: what is read there is parsed as arrays.
  const parsing = recordParsing(config, layout ?? { columns: false, dataStart: 0, dataLine: 1 });
  if (layout === undefined) return parsing;
  const bytes = await readAt(handle, layout.dataStart, DELIMITER_PROBE_BYTES);
  const { firstRecord } = await import('./csv-first-record.js');
  const first = firstRecord(bytes, bytes.length < DELIMITER_PROBE_BYTES, parsing.options);
  if (first.kind !== 'record') return parsing;
  const end = bytes.subarray(Math.max(0, first.bytes - 2), first.bytes).toString('latin1');
  const delimiter = end.endsWith('\r\n') ? '\r\n' : end.endsWith('\n') ? '\n' : end.endsWith('\r') ? '\r' : undefined;
  return delimiter === undefined ? parsing : { ...parsing, options: { ...parsing.options, record_delimiter: delimiter } };
}
