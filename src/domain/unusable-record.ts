/**
 * Outcomes of records that are failed without their handler: unparseable or keyless (`invalid`),
 * a repeated key (`invalid`), or a record that keeps crashing the process (`crashed`).
 */
import { FailureKind } from './status.js';
import { failureGroup } from '../policy/fingerprint.js';
import { defaultRedactor, type Redactor } from '../policy/redact.js';
import { ERROR_LIMITS } from '../policy/serialize-error.js';
import { limitText } from '../policy/text-limit.js';
import { valueText } from '../policy/error-fields.js';
import { MAX_KEY_BYTES, unstorableText } from './identity-text.js';
import type { SourcePosition } from '../sources/source.js';
import type { Outcome } from './outcome.js';

/** The key of a record that has none (it could not be parsed, or its key function failed). */
export function keyOfPosition(position: SourcePosition): string {
  return position.line !== undefined ? `@line:${position.line}` : `@seq:${position.seq}`;
}

/** Whether `key` is one {@link keyOfPosition} gives: a record stored without a usable key of its own. */
export function isPositionKey(key: string): boolean {
  return /^@(?:line|seq):\d+$/.test(key);
}

/** A record the source could not parse. Its message may quote the record, so it is bounded and redacted like a handler's error. */
export function invalidOutcome(
  key: string,
  position: SourcePosition,
  message: string,
  redact: Redactor = defaultRedactor,
): Outcome & { status: 'failed' } {
  const error = { name: 'InvalidRecord', message: limitText(message, ERROR_LIMITS.messageChars, redact) };
  return {
    status: 'failed',
    key,
    position,
    attempts: 0,
    kind: FailureKind.invalid,
    error,
    ...failureGroup(error, FailureKind.invalid, 'invalid-record'),
    rule: 'invalid-record',
    history: [],
  };
}

/**
 * What is wrong with what `job.key` returned, as the message of the record's `invalid` outcome, or
 * undefined for a usable key: a non-empty string that a ledger stores and gives back unchanged
 * (identity-text.ts), or the record could never be found again by its key.
 */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key === '') {
    return `job.key must return a non-empty string; got ${typeof key === 'string' ? JSON.stringify(key) : valueText(key)}`;
  }
  const problem = unstorableText(key, MAX_KEY_BYTES);
  if (problem === undefined) return undefined;
  return (
    `job.key returned ${JSON.stringify(limitText(key, KEY_SHOWN_CHARS))}, which ${problem}; ` +
    `keys must be well-formed text without U+0000, at most ${MAX_KEY_BYTES} bytes (String.prototype.toWellFormed() replaces unpaired surrogates; hash a long key, e.g. createHash('sha256').update(key).digest('hex'))`
  );
}

/** Characters of an unusable key quoted in its message. */
const KEY_SHOWN_CHARS = 200;

export function duplicateMessage(key: string, position: SourcePosition, earlier: { seq: number; line: number }): string {
  const here = position.line !== undefined ? `line ${position.line}` : `record #${position.seq}`;
  const first = earlier.line > 0 ? `line ${earlier.line}` : `record #${earlier.seq}`;
  return `duplicate key ${JSON.stringify(key)}: ${here} repeats the key of ${first}; the first one is processed, this one is not`;
}

/** A record that ran alone each time the process died, `maxCrashes` times. */
export function crashedOutcome(
  key: string,
  position: SourcePosition,
  crashes: { count: number; runIds: string[] },
  maxCrashes: number,
): Outcome & { status: 'failed' } {
  const error = {
    name: 'RecordCrashed',
    message: `the process died ${crashes.count} times while this record ran alone (maxCrashes ${maxCrashes}); it is not run again`,
    crashes: crashes.count,
    runs: crashes.runIds,
  };
  return {
    status: 'failed',
    key,
    position,
    attempts: 0,
    kind: FailureKind.crashed,
    error,
    ...failureGroup(error, FailureKind.crashed, 'crash-quarantine'),
    rule: 'crash-quarantine',
    history: [],
  };
}
