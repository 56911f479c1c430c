/**
 * Validation helpers for `resolve…()` functions: every failure is a `ConfigError` whose message names
 * the field, shows the bad value and says what would be accepted.
 */
import { ConfigError } from '../errors.js';

/** A plain (non-array, non-null) object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Shows a bad value the way it would be written in a job file; bounded so a huge object cannot flood the message. */
export function formatValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'function') text = 'a function';
  else if (Array.isArray(value)) text = 'an array';
  else if (typeof value === 'object' && value !== null) {
    try {
      text = JSON.stringify(value);
    } catch {
      text = 'an object';
    }
  } else text = String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** What `checkNumber` accepts. */
export interface NumberRule {
  /** Lowest accepted value. */
  min: number;
  /** Whether `min` itself is rejected. @default false */
  exclusive?: boolean;
  /** Whether only integers are accepted. @default false */
  integer?: boolean;
  /** Whether `Infinity` is accepted (an explicit opt-out of a bound). @default false */
  allowInfinity?: boolean;
  /** Appended to the message, e.g. the unit or what the option counts. */
  hint?: string;
}

/** Returns `value` if it satisfies `rule`, `fallback` if it is `undefined`; otherwise throws a `ConfigError`. */
export function checkNumber(value: unknown, fallback: number, field: string, rule: NumberRule): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (Number.isFinite(value) ? !rule.integer || Number.isInteger(value) : rule.allowInfinity === true && value > 0) &&
    (rule.exclusive ? value > rule.min : value >= rule.min);
  if (ok) return value;
  const kind = rule.integer ? 'an integer' : rule.allowInfinity ? 'a number' : 'a finite number';
  const bound = `${rule.exclusive ? '>' : '>='} ${rule.min}`;
  const hint = rule.hint === undefined ? '' : ` (${rule.hint})`;
  throw new ConfigError(`${field} must be ${kind} ${bound}${hint}; got ${formatValue(value)}`, { field });
}

/** Returns `value` if it is one of `allowed`, `fallback` if it is `undefined`; otherwise throws a `ConfigError`. */
export function checkOneOf<T extends string>(value: unknown, fallback: T, field: string, allowed: readonly T[]): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(`${field} must be one of ${allowed.join(', ')}; got ${formatValue(value)}`, { field });
}

/**
 * Rejects keys that the option object does not know, so a typo (`initialDelay`) or a renamed option
 * fails loudly instead of being silently ignored. `hints` maps a likely mistake to its fix.
 */
export function checkKnownKeys(
  input: Record<string, unknown>,
  field: string,
  known: readonly string[],
  hints: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(input)) {
    if (known.includes(key)) continue;
    const hint = Object.hasOwn(hints, key) ? `; ${hints[key]}` : '';
    throw new ConfigError(`${field} has no option "${key}"${hint}; known options: ${known.join(', ')}`, {
      field: `${field}.${key}`,
    });
  }
}
