/**
 * The longest record a file source reads (`maxRecordBytes` of jsonl and csv). Past it, the record is
 * one `invalid` item and reading goes on after it: a line of hundreds of megabytes, or a CSV quote
 * that opens and never closes (csv-parse would read the rest of the file into one field), must
 * neither stop the job for good (a JavaScript string holds at most ~512 M characters) nor swallow
 * the records after it nor hold the rest of the file in memory.
 */
import { ConfigError } from '../errors.js';

const KIB = 1024;
const MIB = 1024 * KIB;

/** 64 MiB: far more than a record of a batch job holds, and what a process can parse without strain. */
export const DEFAULT_MAX_RECORD_BYTES = 64 * MIB;
const LEAST = KIB;
const MOST = 256 * MIB;

/** `value` checked as `<kind>.maxRecordBytes` (ConfigError), or the default. */
export function resolveMaxRecordBytes(kind: 'jsonl' | 'csv', value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_RECORD_BYTES;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < LEAST || value > MOST) {
    throw new ConfigError(`${kind}.maxRecordBytes must be an integer from ${LEAST} to ${MOST} (bytes), got ${JSON.stringify(value)}`, {
      field: `${kind}.maxRecordBytes`,
    });
  }
  return value;
}

/** `bytes` for a message: `64 MiB`, `1 KiB`, or a count of bytes. */
export function byteSize(bytes: number): string {
  if (bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes % KIB === 0) return `${bytes / KIB} KiB`;
  return `${bytes} bytes`;
}

/** The message of a JSON Lines line longer than the limit, at `line`. */
export function lineTooLong(line: number, limit: number): string {
  return `line ${line}: longer than maxRecordBytes (${byteSize(limit)}): not read (jsonl.maxRecordBytes raises the limit)`;
}

/**
 * The problem of a CSV record longer than `limit` bytes, starting at `line` (its `invalid` item's
 * message, after `line N: `). Whether it ends further on or not, reading goes on at the line after its
 * first, `line + 1`: where it would end is never looked for, so that its bytes need not be held, and
 * every read (a resume, a read by position) ends it at the same place.
 */
export function recordNeverEnded(line: number, limit: number): string {
  return `longer than maxRecordBytes (${byteSize(limit)}): a quote opened in it and never closed? Reading went on at line ${line + 1}`;
}
