/**
 * Small validators shared by every `resolve…()` function. Each message names the field, the bad
 * value and what would be accepted.
 */
import { ConfigError } from './errors.js';
import { formatValue as show } from './policy/validate.js';

/** Edit distance, for "did you mean" hints on misspelt fields. */
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

/** Rejects fields the object may not have, suggesting the closest known one. */
export function checkKnownFields(value: object, known: readonly string[], where: string): void {
  for (const field of Object.keys(value)) {
    if (known.includes(field)) continue;
    const closest = [...known].sort((a, b) => distance(field, a) - distance(field, b))[0];
    const hint = closest !== undefined && distance(field, closest) <= 3 ? ` (did you mean "${closest}"?)` : '';
    throw new ConfigError(`${where}.${field} is not a known option${hint}; known options: ${known.join(', ')}`, {
      field: `${where}.${field}`,
    });
  }
}

/** A function, or a ConfigError with the given message. */
export function checkFunction(value: unknown, field: string, message: string): void {
  if (typeof value !== 'function') throw new ConfigError(`${message}; got ${show(value)}`, { field });
}

/** An integer in [min, max], or the default when undefined. */
export function checkInteger(value: unknown, field: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${field} must be an integer from ${min} to ${max}; got ${show(value)}`, { field });
  }
  return value;
}

/** A finite number > 0, or the default when undefined. */
export function checkPositive(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${field} must be a number greater than 0; got ${show(value)}`, { field });
  }
  return value;
}

/** A number in [0, 1], or the default when undefined. */
export function checkFraction(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new ConfigError(`${field} must be a fraction from 0 to 1 (0.05 means 5%); got ${show(value)}`, { field });
  }
  return value;
}
