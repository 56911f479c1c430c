/**
 * Groups failures by the shape of their error: the same bug or outage with different ids in the
 * message gets the same fingerprint, which `failures --error FP` and `rerun --error FP` select on.
 */
import { createHash } from 'node:crypto';
import type { SerializedError } from './serialize-error.js';

/** A failure's group: the short id plus what it was computed from. */
export interface ErrorFingerprint {
  /** 12 hex characters of a SHA-1: stable across runs, machines and versions of Node. */
  readonly fingerprint: string;
  readonly name: string;
  readonly code?: string;
  /** The message with variable parts masked, whitespace collapsed, at most `MAX_MASKED_MESSAGE_LENGTH` characters. */
  readonly message: string;
}

/** Masked messages are cut here, so a message that embeds a varying response body still groups. */
export const MAX_MASKED_MESSAGE_LENGTH = 300;

// Order matters: URLs and emails before paths and numbers (which would otherwise eat them piecemeal),
// UUIDs and hex ids before plain numbers. Each mask is a marker without digits, so later rules leave it alone.
const MASKS: readonly (readonly [RegExp, string])[] = [
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, '<url>'],
  [/[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, '<email>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>'],
  // A quote must not follow a letter, so the apostrophe in "can't" does not open a string.
  [/(?<!\w)'[^'\n]*'|"[^"\n]*"|`[^`\n]*`/g, '<str>'],
  [/(?<![\w.\-/])(?:~|\.{1,2})?\/[^\s'"()<>,;]+|\b[a-z]:\\[^\s'"()<>,;]*/gi, '<path>'],
  // Hex runs count as ids only with a digit in them, so words like "deadbeef" or "facade" stay.
  [/\b(?:0x[0-9a-f]+|(?=[0-9a-f]*\d)[0-9a-f]{8,})\b/gi, '<id>'],
  [/\d+(?:\.\d+)*/g, '<n>'],
];

/** `message` with numbers, ids, UUIDs, quoted strings, URLs, emails and file paths replaced by markers. */
export function maskMessage(message: string): string {
  let masked = message;
  for (const [pattern, marker] of MASKS) masked = masked.replace(pattern, marker);
  masked = masked.replace(/\s+/g, ' ').trim();
  return masked.length > MAX_MASKED_MESSAGE_LENGTH ? masked.slice(0, MAX_MASKED_MESSAGE_LENGTH) : masked;
}

/**
 * The fingerprint of a serialized error: SHA-1 over name, code, HTTP status and masked message of
 * the top-level error only. Deliberately not the innermost cause: the top level is what the handler
 * threw and what the report shows, and looking deeper would merge different failures that share a
 * low-level cause. The status is included because messages that differ only in it ("status code 404"
 * vs "503") mask to the same text but are different problems.
 */
export function errorFingerprint(error: SerializedError): ErrorFingerprint {
  const message = maskMessage(error.message);
  const parts = [error.name, error.code ?? '', error.status === undefined ? '' : String(error.status), message];
  const fingerprint = createHash('sha1').update(parts.join('\u0000')).digest('hex').slice(0, 12);
  return error.code === undefined
    ? { fingerprint, name: error.name, message }
    : { fingerprint, name: error.name, code: error.code, message };
}
