/**
 * The one validation vocabulary for every option (job, run, source, policy, lease). Each failure is a
 * `ConfigError` whose `field` is the full path (`retry.backoff.initialDelayMs`) and whose message has
 * one shape:
 *
 *   `<field> <what is wrong>[ (did you mean "<name>"?)]; got <value>[; <how to fix it>]`
 *
 * This module sits below the job, the engine and the policies, so none of them import each other to
 * validate.
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

/** The error every check throws: `<field> <problem>; got <value>[; <fix>]`. */
export function invalid(field: string, problem: string, value: unknown, fix?: string): ConfigError {
  return new ConfigError(`${field} ${problem}; got ${formatValue(value)}${fix === undefined ? '' : `; ${fix}`}`, { field });
}

/** Edit distance, for "did you mean" hints on misspelt names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

/**
 * The known name a misspelling most likely meant: within 3 edits, or the known name that starts with
 * it (`initialDelay` → `initialDelayMs`, a unit left off). Undefined when nothing is close.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const prefixed = known.find((candidate) => candidate.toLowerCase().startsWith(lower) && lower.length >= 3);
  if (prefixed !== undefined) return prefixed;
  let best: string | undefined;
  // Short names need a closer match: one edit away from `c` is any one-letter name.
  let bestDistance = Math.min(4, Math.ceil(name.length / 2));
  for (const candidate of known) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Rejects keys that the option object does not know, so a typo (`initialDelay`) or a renamed option
 * fails loudly instead of being silently ignored. `field` is the object's full path; `hints` maps a
 * likely mistake to its fix (`retries` → use maxAttempts).
 */
export function checkKnownKeys(input: object, field: string, known: readonly string[], hints: Readonly<Record<string, string>> = {}): void {
  for (const [key, value] of Object.entries(input)) {
    if (known.includes(key)) continue;
    const hint = Object.hasOwn(hints, key) ? hints[key] : undefined;
    const closest = hint === undefined ? closestName(key, known) : undefined;
    const meant = closest === undefined ? '' : ` (did you mean "${closest}"?)`;
    const fix = `${hint === undefined ? '' : `${hint}; `}known options: ${known.join(', ')}`;
    throw invalid(`${field}.${key}`, `is not a known option${meant}`, value, fix);
  }
}

/** What `checkNumber` accepts. */
export interface NumberRule {
  /** Lowest accepted value. */
  min: number;
  /** Highest accepted value. @default no upper bound */
  max?: number;
  /** Whether `min` itself is rejected. @default false */
  exclusive?: boolean;
  /** Whether only integers are accepted. @default false */
  integer?: boolean;
  /** Whether `Infinity` is accepted (an explicit opt-out of a bound). @default false */
  allowInfinity?: boolean;
  /** Appended to the rule, e.g. the unit or what the option counts. */
  hint?: string;
}

/** Returns `value` if it satisfies `rule`, `fallback` if it is `undefined`; otherwise throws a `ConfigError`. */
export function checkNumber(value: unknown, fallback: number, field: string, rule: NumberRule): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (Number.isFinite(value) ? !rule.integer || Number.isInteger(value) : rule.allowInfinity === true && value > 0) &&
    (rule.exclusive ? value > rule.min : value >= rule.min) &&
    (rule.max === undefined || value <= rule.max);
  if (ok) return value;
  const kind = rule.integer ? 'an integer' : rule.allowInfinity ? 'a number' : 'a finite number';
  const bound = rule.max === undefined ? `${rule.exclusive ? '>' : '>='} ${rule.min}` : `from ${rule.min} to ${rule.max}`;
  const hint = rule.hint === undefined ? '' : ` (${rule.hint})`;
  throw invalid(field, `must be ${kind} ${bound}${hint}`, value);
}

/** An integer in [min, max], or the default when undefined. */
export function checkInteger(value: unknown, field: string, fallback: number, min: number, max: number): number {
  return checkNumber(value, fallback, field, { min, max, integer: true });
}

/** A finite number > 0, or the default when undefined. */
export function checkPositive(value: unknown, field: string, fallback: number): number {
  return checkNumber(value, fallback, field, { min: 0, exclusive: true });
}

/** A number in [0, 1], or the default when undefined. */
export function checkFraction(value: unknown, field: string, fallback: number): number {
  return checkNumber(value, fallback, field, { min: 0, max: 1, hint: '0.05 means 5%' });
}

/** Returns `value` if it is one of `allowed`, `fallback` if it is `undefined`; otherwise throws a `ConfigError`. */
export function checkOneOf<T extends string>(value: unknown, fallback: T, field: string, allowed: readonly T[]): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  const closest = typeof value === 'string' ? closestName(value, allowed) : undefined;
  throw invalid(field, `must be one of ${allowed.join(', ')}${closest === undefined ? '' : ` (did you mean "${closest}"?)`}`, value);
}

/** A function, or a `ConfigError` saying what it must be (`expected`, e.g. "a function (record) => string"). */
export function checkFunction(value: unknown, field: string, expected: string): void {
  if (typeof value !== 'function') throw invalid(field, `must be ${expected}`, value);
}

/** `value` when it is a boolean, `fallback` when it is `undefined`; otherwise a `ConfigError` (a truthy string is no `true`). */
export function checkBoolean(value: unknown, fallback: boolean, field: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(field, 'must be true or false', value);
  return value;
}

/** An injected clock (`systemClock`, a `ManualClock`), returned as it is, or a `ConfigError`: its methods are called deep in a run. */
export function checkClock<C>(value: C, field: string): C {
  const candidate = value as Partial<Record<'now' | 'sleep' | 'timer', unknown>> | null | undefined;
  if (typeof candidate?.now !== 'function' || typeof candidate.sleep !== 'function' || typeof candidate.timer !== 'function') {
    throw invalid(field, 'must be a Clock with now(), sleep() and timer()', value);
  }
  return value;
}

/** An AbortSignal, or a `ConfigError`. By shape, not instanceof: a signal from another realm or a polyfill serves as well. */
export function checkSignal(value: unknown, field: string): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const candidate = value as Partial<AbortSignal> | null;
  if (typeof candidate?.aborted === 'boolean' && typeof candidate.addEventListener === 'function') return value as AbortSignal;
  throw invalid(field, 'must be an AbortSignal (controller.signal)', value);
}
