/**
 * Redaction of structured values (a log entry's fields), with the same rules as text: a field named
 * like a secret (`authorization`, `password`, `x-api-key`, `cookie`…) loses its whole value, and
 * every string elsewhere goes through the text redactor (a URL's password, a bearer token inside a
 * message). A handler's `ctx.log(message, fields)` can hand over anything, request headers
 * included, at any depth: the walk follows plain data to a bounded depth and breadth.
 */
import { isSecretName, REDACTED, type Redactor } from './redact.js';

/** How deep the walk goes; deeper values are replaced by a mark. */
const MAX_DEPTH = 8;
/** Entries kept per object or array; the rest are counted in a mark. */
const MAX_ENTRIES = 100;

/**
 * A copy of `value` that is plain JSON data with its secrets replaced by `[redacted]`. Never throws
 * (a getter that throws, a revoked proxy): what cannot be read is replaced by a mark.
 */
export function redactFields(value: unknown, redact: Redactor): unknown {
  return walk(value, redact, 0, new Set());
}

function walk(value: unknown, redact: Redactor, depth: number, ancestors: Set<object>): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return `[${typeof value}]`;
  if (value === null || typeof value !== 'object') return value;
  if (ancestors.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  try {
    // An Error's message and name are not own enumerable fields: without this it would log as {}.
    if (value instanceof Error) return { name: redact(String(value.name)), message: redact(String(value.message)) };
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return walk(toJSON.call(value), redact, depth + 1, ancestors);
    ancestors.add(value);
    try {
      if (Array.isArray(value)) {
        const out = value.slice(0, MAX_ENTRIES).map((item) => walk(item, redact, depth + 1, ancestors));
        if (value.length > MAX_ENTRIES) out.push(`[${value.length - MAX_ENTRIES} more]`);
        return out;
      }
      const out: Record<string, unknown> = {};
      const entries = Object.entries(value);
      for (const [key, item] of entries.slice(0, MAX_ENTRIES)) {
        out[key] = isSecretName(key) && item !== undefined && item !== null ? REDACTED : walk(item, redact, depth + 1, ancestors);
      }
      if (entries.length > MAX_ENTRIES) out['…'] = `${entries.length - MAX_ENTRIES} more fields`;
      return out;
    } finally {
      ancestors.delete(value);
    }
  } catch {
    return '[unreadable]';
  }
}
