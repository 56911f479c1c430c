/**
 * Turns any thrown value into plain JSON for the failure report and the ledger, keeping the cause
 * chain, and the chain itself for classification. Never throws: it runs on the failure path, where
 * a second exception would hide the first, and anything can be thrown (a revoked proxy, an object
 * whose getters throw, a symbol). Bounded: what one failure stores is capped (see ERROR_LIMITS),
 * and secrets are redacted before the text leaves this module.
 */
import { FatalError, RetryableError } from '../errors.js';
import { boundedJson } from './bounded-json.js';
import { errorCodeOf, errorMessageOf, errorNameOf, httpStatusOf, isInstance, readProp } from './error-fields.js';
import { defaultRedactor, type Redactor } from './redact.js';
import { limitText } from './text-limit.js';

/** How many causes below the top-level error are followed (by `serializeError` and `causeChain`). */
export const MAX_CAUSE_DEPTH = 8;

/** At most this many entries of an `AggregateError`'s `errors` are kept; the rest are counted in `omittedErrors`. */
export const MAX_AGGREGATED_ERRORS = 32;

/**
 * What one serialized error may hold. Cut text ends with `… [truncated N chars]`. The total bounds
 * matter as much as the per-field ones: nested AggregateErrors would otherwise multiply.
 */
export const ERROR_LIMITS = Object.freeze({
  /** Characters of one message. */
  messageChars: 2000,
  /** Characters of one stack. */
  stackChars: 4000,
  /** Characters of a name, a code or a kept extra field. */
  fieldChars: 200,
  /** Errors in one serialized tree (the top level, causes and aggregated errors). */
  errors: 64,
  /** Characters of messages and stacks in one serialized tree; past it, messages get 200 and stacks are dropped. */
  totalChars: 20_000,
});

/**
 * Extra fields copied when they hold a string, boolean or finite number. A list rather than "every
 * own property" on purpose: HTTP clients hang request configs (with auth headers) and whole response
 * bodies on their errors, which must not end up in reports.
 */
const KEPT_FIELDS = ['errno', 'syscall', 'hostname', 'address', 'port', 'retryAfterMs', 'timeoutMs', 'field'] as const;

/** A thrown value as plain JSON. `circular: true` or `truncated: true` mark where the chain was cut. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  /** HTTP status, from `status`, `statusCode` or `response.status`. */
  status?: number;
  stack?: string;
  cause?: SerializedError;
  /** The `errors` of an `AggregateError` (or any error carrying an `errors` array). */
  errors?: SerializedError[];
  /** The failure group a `FatalError` or `RetryableError` named explicitly (`{ group }` option). */
  group?: string;
  [extra: string]: unknown;
}

/** Options of `serializeError`. */
export interface SerializeOptions {
  /** Replaces secrets in every text field. @default the built-in patterns (docs/jobs.md, `redact`) */
  redact?: Redactor;
}

interface Walk {
  readonly redact: Redactor;
  /** Drops lines of the stacks along the cause chain before they are cut and redacted (see `serializeStoredError`). */
  readonly stackFilter: ((stack: string) => string) | undefined;
  readonly ancestors: Set<object>;
  /** Only what a fingerprint reads (see `serializeIdentity`). */
  readonly identityOnly: boolean;
  errorsLeft: number;
  charsLeft: number;
}

/**
 * Serializes any thrown value. Non-objects become `{ name: 'NonError', message: String(value) }`;
 * a cause already seen higher in the chain becomes a stub with `circular: true`; causes deeper than
 * `MAX_CAUSE_DEPTH` become a stub with `truncated: true`. The result always survives `JSON.stringify`.
 */
export function serializeError(error: unknown, options: SerializeOptions = {}): SerializedError {
  return serializeAt(error, 0, newWalk(options.redact, false), false);
}

/**
 * `serializeError`, with `stackFilter` applied to the stack of the error and of each cause (not to
 * aggregated errors' stacks) as read, before the stack is cut and redacted: what the ledger stores
 * drops batchguard's own frames (engine/stored-error.ts). Filtering first spares the redaction and
 * the cut the lines that are dropped anyway, 9 of a 10-frame stack when the handler threw at once;
 * the result is what filtering the serialized stack gives, except where the cut or the tree's
 * character budget bound (then it keeps more of the kept lines, not fewer).
 */
export function serializeStoredError(
  error: unknown,
  redact: Redactor | undefined,
  stackFilter: (stack: string) => string,
): SerializedError {
  const walk = newWalk(redact, false, stackFilter);
  return serializeAt(error, 0, walk, true);
}

/**
 * What a failure's fingerprint is computed from (fingerprint.ts), and only that: the name, code,
 * HTTP status and explicit group of the error and of each cause, and where the cause chain was cut.
 * Messages are empty; no stack, extra field or aggregated error is read. It runs the statements of
 * `serializeError` that produce those fields, skipping the others (none of which the fields depend
 * on: a cause is serialized before its error's aggregated errors, so these never use up the error
 * budget of the chain), so that a fingerprint computed from it is the one computed from the full
 * serialization. A retried attempt needs its fingerprint at once (for the breaker) but its stack,
 * the costly part (V8 formats it on first read), only if the record ends up failing.
 */
export function serializeIdentity(error: unknown): SerializedError {
  return serializeAt(error, 0, newWalk(undefined, true), false);
}

function newWalk(redact: Redactor | undefined, identityOnly: boolean, stackFilter?: (stack: string) => string): Walk {
  return {
    redact: safeRedactor(redact ?? defaultRedactor),
    stackFilter,
    ancestors: new Set(),
    identityOnly,
    errorsLeft: ERROR_LIMITS.errors,
    charsLeft: ERROR_LIMITS.totalChars,
  };
}

/** `onChain`: `value` is the top-level error or one of its causes, whose stacks `walk.stackFilter` filters. */
function serializeAt(value: unknown, depth: number, walk: Walk, onChain: boolean): SerializedError {
  const identityOnly = walk.identityOnly;
  walk.errorsLeft--;
  if (typeof value !== 'object' || value === null)
    return { name: 'NonError', message: identityOnly ? '' : text(describeNonObject(value), ERROR_LIMITS.messageChars, walk) };
  let name = 'NonError';
  try {
    name = limitText(
      errorNameOf(value) ?? (isInstance(value, Error) ? (errorNameOf(readProp(value, 'constructor')) ?? 'Error') : 'NonError'),
      ERROR_LIMITS.fieldChars,
    );
    const message = identityOnly ? '' : text(messageOf(value), ERROR_LIMITS.messageChars, walk);
    if (walk.ancestors.has(value)) return { name, message, circular: true };
    if (depth > MAX_CAUSE_DEPTH || walk.errorsLeft < 0) return { name, message, truncated: true };

    const out: SerializedError = { name, message };
    const code = errorCodeOf(value);
    if (code !== undefined) out.code = limitText(code, ERROR_LIMITS.fieldChars);
    const status = httpStatusOf(value);
    if (status !== undefined) out.status = status;
    if (!identityOnly) keepFields(value, out, walk);
    const group = readProp(value, 'group');
    if (typeof group === 'string' && group !== '' && (isInstance(value, FatalError) || isInstance(value, RetryableError))) {
      out.group = limitText(group, ERROR_LIMITS.fieldChars);
    }
    if (!identityOnly) {
      const stack = readProp(value, 'stack');
      if (typeof stack === 'string' && walk.charsLeft > 0)
        out.stack = text(onChain && walk.stackFilter ? walk.stackFilter(stack) : stack, ERROR_LIMITS.stackChars, walk);
    }

    // Only the current path counts as "seen": the same error may legitimately appear twice side by
    // side (e.g. in an AggregateError and as its cause) without being a cycle.
    walk.ancestors.add(value);
    const cause = readProp(value, 'cause');
    if (cause !== undefined && cause !== null) out.cause = serializeAt(cause, depth + 1, walk, onChain);
    if (!identityOnly) serializeAggregated(value, out, depth, walk);
    walk.ancestors.delete(value);
    return out;
  } catch {
    // Only reachable through a value hostile beyond what the guards above expect; keep what is known.
    walk.ancestors.delete(value);
    return { name, message: '[the thrown value could not be read]' };
  }
}

/** The extra fields of KEPT_FIELDS that `value` has. */
function keepFields(value: object, out: SerializedError, walk: Walk): void {
  for (const field of KEPT_FIELDS) {
    const extra = readProp(value, field);
    if (typeof extra === 'string') out[field] = limitText(extra, ERROR_LIMITS.fieldChars, walk.redact);
    else if (typeof extra === 'boolean' || (typeof extra === 'number' && Number.isFinite(extra))) out[field] = extra;
  }
}

function serializeAggregated(value: object, out: SerializedError, depth: number, walk: Walk): void {
  const errors = readProp(value, 'errors');
  if (!isArray(errors)) return;
  const total = errors.length;
  const kept: SerializedError[] = [];
  for (let i = 0; i < Math.min(total, MAX_AGGREGATED_ERRORS) && walk.errorsLeft > 0; i++) {
    kept.push(serializeAt(readProp(errors, String(i)), depth + 1, walk, false));
  }
  out.errors = kept;
  if (total > kept.length) out.omittedErrors = total - kept.length;
}

/** Text cut to `maxChars` (less once the tree's character budget is spent), redacted. */
function text(value: string, maxChars: number, walk: Walk): string {
  const limit = walk.charsLeft > 0 ? Math.min(maxChars, walk.charsLeft) : 200;
  const out = limitText(value, Math.max(limit, 200), walk.redact);
  walk.charsLeft -= out.length;
  return out;
}

/** The message of an error, or a short JSON rendering of a thrown plain object such as `{ error: 'rate_limited' }`. */
function messageOf(value: object): string {
  const message = errorMessageOf(value);
  if (message !== undefined) return message;
  if (isInstance(value, Error)) return '';
  return boundedJson(value, 500);
}

function describeNonObject(value: unknown): string {
  try {
    if (typeof value === 'function') return `[function ${typeof value.name === 'string' && value.name !== '' ? value.name : 'anonymous'}]`;
    return String(value);
  } catch {
    return `[${typeof value}]`;
  }
}

function isArray(value: unknown): value is unknown[] {
  try {
    return Array.isArray(value) && typeof value.length === 'number';
  } catch {
    return false;
  }
}

/** A user pattern that throws (a catastrophic regex is caught by nothing, but a bad one is) must not lose the failure. */
function safeRedactor(redact: Redactor): Redactor {
  return (value) => {
    try {
      return redact(value);
    } catch {
      return '[redaction failed: text withheld]';
    }
  };
}

/**
 * The error followed by each `.cause` in turn: outermost first, stopping at a missing cause, at a
 * cause already in the chain (a cycle), or after `MAX_CAUSE_DEPTH` causes.
 */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [error];
  const seen = new Set<unknown>(chain);
  let current = error;
  while (chain.length <= MAX_CAUSE_DEPTH) {
    const cause = readProp(current, 'cause');
    if (cause === undefined || cause === null || seen.has(cause)) break;
    chain.push(cause);
    seen.add(cause);
    current = cause;
  }
  return chain;
}
