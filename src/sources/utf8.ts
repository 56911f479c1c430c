/**
 * Invalid UTF-8 in a file source. Node's decoder turns each bad byte sequence into U+FFFD, so a
 * record would be processed with data that is not what the file holds; by default the record is
 * failed instead (kind `invalid`), naming the byte.
 */
import { isUtf8 } from 'node:buffer';
import { ConfigError } from '../errors.js';

/** What a file source does with a record whose bytes are not valid UTF-8: fail it (kind `invalid`) or decode it with U+FFFD. */
export const InvalidUtf8 = { fail: 'fail', replace: 'replace' } as const;
export type InvalidUtf8 = (typeof InvalidUtf8)[keyof typeof InvalidUtf8];

/** Validates the `invalidUtf8` option of the source `kind`. */
export function resolveInvalidUtf8(kind: string, value: unknown): InvalidUtf8 {
  if (value === undefined) return 'fail';
  if (value === 'fail' || value === 'replace') return value;
  throw new ConfigError(`${kind}.invalidUtf8 must be 'fail' or 'replace', got ${JSON.stringify(value)}`, { field: `${kind}.invalidUtf8` });
}

/** True when every byte is part of a valid UTF-8 sequence (native; a few GB/s). */
export const validUtf8 = (bytes: Uint8Array): boolean => bytes.length === 0 || isUtf8(bytes);

/** The index of the first byte that does not start a valid UTF-8 sequence, or -1. Only called for bytes known to be invalid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const byte = bytes[i] as number;
    const length =
      byte < 0x80 ? 1 : byte >= 0xc2 && byte <= 0xdf ? 2 : byte >= 0xe0 && byte <= 0xef ? 3 : byte >= 0xf0 && byte <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length || !validUtf8(bytes.subarray(i, i + length))) return i;
    i += length;
  }
  return -1;
}

/** The message of a record failed for invalid UTF-8. */
export function invalidUtf8Message(kind: string, line: number | undefined, offset: number, bytes: Uint8Array, at: number): string {
  const shown = Array.from(bytes.subarray(at, at + 4), (b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
  return `line ${String(line)}: invalid UTF-8 at byte offset ${offset + at} (bytes ${shown}); the record is not processed (${kind}(path, { invalidUtf8: 'replace' }) would process it with U+FFFD in place of those bytes)`;
}
