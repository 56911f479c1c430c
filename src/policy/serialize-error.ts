/**
 * Turns any thrown value into plain JSON for the failure report and the ledger, keeping the cause
 * chain, and the chain itself for classification. Never throws: it runs on the failure path.
 */
import { errorCodeOf, errorMessageOf, errorNameOf, httpStatusOf, readProp } from './error-fields.js';

/** How many causes below the top-level error are followed (by `serializeError` and `causeChain`). */
export const MAX_CAUSE_DEPTH = 8;

/** At most this many entries of an `AggregateError`'s `errors` are kept; the rest are counted in `omittedErrors`. */
export const MAX_AGGREGATED_ERRORS = 32;

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
  [extra: string]: unknown;
}

/**
 * Serializes any thrown value. Non-objects become `{ name: 'NonError', message: String(value) }`;
 * a cause already seen higher in the chain becomes a stub with `circular: true`; causes deeper than
 * `MAX_CAUSE_DEPTH` become a stub with `truncated: true`. The result always survives `JSON.stringify`.
 */
export function serializeError(error: unknown): SerializedError {
  return serializeAt(error, 0, new Set());
}

function serializeAt(value: unknown, depth: number, ancestors: Set<object>): SerializedError {
  if (typeof value !== 'object' || value === null) return { name: 'NonError', message: describeNonObject(value) };
  const name =
    errorNameOf(value) ?? (value instanceof Error ? (errorNameOf(readProp(value, 'constructor')) ?? 'Error') : 'NonError');
  const message = messageOf(value);
  if (ancestors.has(value)) return { name, message, circular: true };
  if (depth > MAX_CAUSE_DEPTH) return { name, message, truncated: true };

  const out: SerializedError = { name, message };
  const code = errorCodeOf(value);
  if (code !== undefined) out.code = code;
  const status = httpStatusOf(value);
  if (status !== undefined) out.status = status;
  for (const field of KEPT_FIELDS) {
    const extra = readProp(value, field);
    if (typeof extra === 'string' || typeof extra === 'boolean' || (typeof extra === 'number' && Number.isFinite(extra))) {
      out[field] = extra;
    }
  }
  const stack = readProp(value, 'stack');
  if (typeof stack === 'string') out.stack = stack;

  // Only the current path counts as "seen": the same error may legitimately appear twice side by
  // side (e.g. in an AggregateError and as its cause) without being a cycle.
  ancestors.add(value);
  const cause = readProp(value, 'cause');
  if (cause !== undefined && cause !== null) out.cause = serializeAt(cause, depth + 1, ancestors);
  const errors = readProp(value, 'errors');
  if (Array.isArray(errors)) {
    out.errors = errors.slice(0, MAX_AGGREGATED_ERRORS).map((item: unknown) => serializeAt(item, depth + 1, ancestors));
    if (errors.length > MAX_AGGREGATED_ERRORS) out.omittedErrors = errors.length - MAX_AGGREGATED_ERRORS;
  }
  ancestors.delete(value);
  return out;
}

/** The message of an error, or a short JSON rendering of a thrown plain object such as `{ error: 'rate_limited' }`. */
function messageOf(value: object): string {
  const message = errorMessageOf(value);
  if (message !== undefined) return message;
  if (value instanceof Error) return '';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // circular or BigInt-holding objects: fall through to the generic tag
  }
  text ??= Object.prototype.toString.call(value);
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

function describeNonObject(value: unknown): string {
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  return String(value);
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
