/**
 * Parses the one record at the start of some bytes of a CSV file, with csv-parse and the options of
 * the stream: how the header is read (csv.ts) and how a waiting record is read again at its offset
 * (csv-record-reader.ts). The bytes are a prefix of the rest of the file, so the answer may be that
 * more are needed: a record that reaches their end may go on (or its "\r" may be followed by "\n").
 */
import { parse, type Options } from 'csv-parse/sync';

/** What the bytes hold at their start. */
export type FirstRecord =
  /** The record, and how many bytes it takes with its line break. */
  | { readonly kind: 'record'; readonly record: unknown; readonly bytes: number }
  /** csv-parse rejects the record (its error, with the `code` csv-parse gives). */
  | { readonly kind: 'error'; readonly error: Error }
  /** No record: only empty or comment lines up to the end of the file. */
  | { readonly kind: 'none' }
  /** The record may go on past these bytes: read more and ask again. */
  | { readonly kind: 'more' };

/**
 * The first record of `bytes`, which start at a record (or at empty and comment lines before one)
 * and are the rest of the file when `whole`.
 */
export function firstRecord(bytes: Buffer, whole: boolean, options: Options): FirstRecord {
  let records: { record: unknown; info: { bytes: number } }[];
  try {
    records = parse(bytes, { ...options, info: true, to: 1 }) as unknown as typeof records;
  } catch (error) {
    if (whole) return { kind: 'error', error: error as Error };
    // An open quote may be closed further on; a record found short of fields at the end of the
    // bytes may have more. An error found before their end is final.
    const { code, bytes: at } = error as { code?: unknown; bytes?: unknown };
    if (code === 'CSV_QUOTE_NOT_CLOSED' || Number(at ?? 0) >= bytes.length) return { kind: 'more' };
    return { kind: 'error', error: error as Error };
  }
  const first = records[0];
  if (first === undefined) return whole ? { kind: 'none' } : { kind: 'more' };
  if (first.info.bytes >= bytes.length && !whole) return { kind: 'more' };
  return { kind: 'record', record: first.record, bytes: first.info.bytes };
}
