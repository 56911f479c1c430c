import { describe, it, expect } from 'vitest';
import { ConfigError } from '../errors.js';
import { configError } from '../../test/helpers/errors.js';
import { checkKnownKeys, checkNumber, checkOneOf, formatValue } from './validate.js';

describe('formatValue', () => {
  it('shows values as they would be written in code', () => {
    expect(formatValue('fulll')).toBe('"fulll"');
    expect(formatValue(-1)).toBe('-1');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(null)).toBe('null');
    expect(formatValue(undefined)).toBe('undefined');
    expect(formatValue([1])).toBe('an array');
    expect(formatValue(() => 1)).toBe('a function');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
  });

  it('bounds long values', () => {
    expect(formatValue('x'.repeat(200))).toHaveLength(80);
  });
});

describe('checkNumber', () => {
  it('returns the fallback for undefined and the value when valid', () => {
    expect(checkNumber(undefined, 7, 'f', { min: 0 })).toBe(7);
    expect(checkNumber(0, 7, 'f', { min: 0 })).toBe(0);
    expect(checkNumber(Infinity, 7, 'f', { min: 0, allowInfinity: true })).toBe(Infinity);
  });

  it('names the field, the rule and the bad value', () => {
    expect(configError(() => checkNumber(-1, 0, 'a.b', { min: 0, hint: 'milliseconds' })).message).toBe(
      'a.b must be a finite number >= 0 (milliseconds); got -1',
    );
    expect(configError(() => checkNumber(1.5, 0, 'n', { min: 1, integer: true })).message).toBe('n must be an integer >= 1; got 1.5');
    expect(configError(() => checkNumber(0, 1, 'n', { min: 0, exclusive: true })).message).toBe('n must be a finite number > 0; got 0');
    expect(configError(() => checkNumber(Infinity, 0, 'n', { min: 0 })).message).toBe('n must be a finite number >= 0; got Infinity');
    expect(configError(() => checkNumber('5', 0, 'n', { min: 0 })).field).toBe('n');
    expect(() => checkNumber(NaN, 0, 'n', { min: 0, allowInfinity: true })).toThrow(ConfigError);
  });
});

describe('checkOneOf and checkKnownKeys', () => {
  it('accepts listed values and rejects others with the list', () => {
    expect(checkOneOf(undefined, 'a', 'f', ['a', 'b'])).toBe('a');
    expect(checkOneOf('b', 'a', 'f', ['a', 'b'])).toBe('b');
    expect(configError(() => checkOneOf('c', 'a', 'f', ['a', 'b'])).message).toBe('f must be one of a, b; got "c"');
  });

  it('rejects unknown keys, with a hint when one is known', () => {
    expect(() => checkKnownKeys({ a: 1 }, 'opt', ['a'])).not.toThrow();
    const error = configError(() => checkKnownKeys({ retries: 2 }, 'retry', ['maxAttempts'], { retries: 'use maxAttempts' }));
    expect(error.message).toBe('retry has no option "retries"; use maxAttempts; known options: maxAttempts');
    expect(error.field).toBe('retry.retries');
  });
});
