/**
 * Groups failures by cause, not by wording. A failure's group (its `fingerprint`) is the identity
 * of its error: the name, code and HTTP status of each error along the cause chain, the failure
 * kind and the classification rule that decided it. The message does not take part, because
 * messages name the record ("no match for Zürich", "GET /airports/LHR: 404") and would give one
 * group per record; the masked message (the `template`) is the second level shown under each group.
 * A `FatalError` or `RetryableError` with a `group` option names its group outright.
 */
import { createHash } from 'node:crypto';
import type { SerializedError } from './serialize-error.js';

/** A failure's group: the short id plus what it was computed from. */
export interface ErrorFingerprint {
  /** 12 hex characters of a SHA-1: stable across runs, machines and versions of Node. */
  readonly fingerprint: string;
  readonly name: string;
  readonly code?: string;
  /** The message with variable parts masked (the template), at most `MAX_MASKED_MESSAGE_LENGTH` characters. */
  readonly message: string;
  /** Same as `message`: the second level of grouping, under the fingerprint. */
  readonly template: string;
}

/** What besides the error identifies a failure's group. */
export interface FailureContext {
  /** The failure kind (`fatal`, `exhausted`, `timeout`, `invalid`, `crashed`). */
  readonly kind?: string;
  /** The classification rule that decided it (e.g. `http-status-404`). */
  readonly rule?: string;
}

/** Masked messages are cut here, so a message that embeds a varying response body still groups. */
export const MAX_MASKED_MESSAGE_LENGTH = 300;

/**
 * Only this much of a message is masked. Masking is a handful of regular expressions; bounding
 * their input bounds their cost whatever a handler throws (a 10 MB message costs what 1 KB does).
 */
export const MASKED_INPUT_CHARS = 1000;

// Order matters: URLs and emails before paths and numbers (which would otherwise eat them piecemeal),
// UUIDs and hex ids before plain numbers. Each mask is a marker without digits, so later rules leave it alone.
// Every pattern starts at a token boundary and has bounded inner repetition, so each runs in linear
// time: an unanchored `[\w.+-]+@` retried at every position of one long token was quadratic.
const MASKS: readonly (readonly [RegExp, string])[] = [
  [/\b[a-z][a-z0-9+.-]{0,31}:\/\/[^\s"'<>]+/gi, '<url>'],
  [/(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}/g, '<email>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>'],
  // A quote must not follow a letter, so the apostrophe in "can't" does not open a string.
  [/(?<!\w)'[^'\n]*'|"[^"\n]*"|`[^`\n]*`/g, '<str>'],
  [/(?<![\w.\-/])(?:~|\.{1,2})?\/[^\s'"()<>,;]+|\b[a-z]:\\[^\s'"()<>,;]*/gi, '<path>'],
  // Hex runs count as ids only with a digit in them, so words like "deadbeef" or "facade" stay.
  [/\b(?:0x[0-9a-f]+|(?=[0-9a-f]*\d)[0-9a-f]{8,})\b/gi, '<id>'],
  [/\d+(?:\.\d+)*/g, '<n>'],
];

/**
 * The template of a message: numbers, ids, UUIDs, quoted strings, URLs, emails and file paths
 * replaced by markers, whitespace collapsed. Looks at the first `MASKED_INPUT_CHARS` characters only.
 */
export function maskMessage(message: string): string {
  let masked = message.length > MASKED_INPUT_CHARS ? message.slice(0, MASKED_INPUT_CHARS) : message;
  for (const [pattern, marker] of MASKS) masked = masked.replace(pattern, marker);
  // NUL shown as an escape: PostgreSQL's text cannot hold it (the template is stored as text).
  masked = masked.replace(/\s+/g, ' ').replace(/\0/g, '\\0').trim();
  return masked.length > MAX_MASKED_MESSAGE_LENGTH ? masked.slice(0, MAX_MASKED_MESSAGE_LENGTH) : masked;
}

/**
 * The group of a failure: SHA-1 over the error's explicit `group` when it has one, otherwise over
 * name, code and HTTP status of every error along the serialized cause chain (so a wrapper around a
 * 503 and one around a 404 differ, and so do ECONNREFUSED and ENOTFOUND under fetch's "fetch
 * failed"), the kind and the rule.
 */
export function errorFingerprint(error: SerializedError, context: FailureContext = {}): ErrorFingerprint {
  const template = maskMessage(error.message);
  const fingerprint = failureFingerprint(error, context);
  return error.code === undefined
    ? { fingerprint, name: error.name, message: template, template }
    : { fingerprint, name: error.name, code: error.code, message: template, template };
}

/** The `fingerprint` of `errorFingerprint` alone, without masking the message. */
export function failureFingerprint(error: SerializedError, context: FailureContext = {}): string {
  const group = explicitGroup(error);
  const parts = group !== undefined ? ['group', group] : [...identityParts(error), context.kind ?? '', context.rule ?? ''];
  const identity = parts.join('\u0000');
  let fingerprint = recentFingerprints.get(identity);
  if (fingerprint === undefined) {
    fingerprint = createHash('sha1').update(identity).digest('hex').slice(0, 12);
    if (recentFingerprints.size >= MAX_RECENT_FINGERPRINTS) recentFingerprints.clear();
    recentFingerprints.set(identity, fingerprint);
  }
  return fingerprint;
}

/**
 * Fingerprints by identity. A run has a handful of failure groups and hashes the same identity for
 * every failure of one; a SHA-1 through node:crypto costs ~10 µs, a lookup next to nothing. An
 * identity is at most a few KB (its names and codes are cut at 200 characters), so the cache is
 * bounded; it is emptied when full, which a run with more distinct groups than this only slows.
 */
const recentFingerprints = new Map<string, string>();
const MAX_RECENT_FINGERPRINTS = 256;

/** The outermost explicit group along the chain: a wrapper may name the group of what it wraps. */
function explicitGroup(error: SerializedError): string | undefined {
  for (let link: SerializedError | undefined = error; link; link = link.cause) {
    if (typeof link.group === 'string') return link.group;
  }
  return undefined;
}

function identityParts(error: SerializedError): string[] {
  const parts: string[] = [];
  for (let link: SerializedError | undefined = error; link; link = link.cause) {
    parts.push(`${link.name}|${link.code ?? ''}|${link.status ?? ''}`);
  }
  return parts;
}

/** The `fingerprint` and `template` of a failure outcome, to spread into it. */
export function failureGroup(error: SerializedError, kind: string, rule: string): { fingerprint: string; template: string } {
  const { fingerprint, template } = errorFingerprint(error, { kind, rule });
  return { fingerprint, template };
}
