import { describe, it, expect } from 'vitest';
import { ConfigError } from '../errors.js';
import { configError } from '../../test/helpers/errors.js';
import {
  checkFraction,
  checkFunction,
  checkInteger,
  checkKnownKeys,
  checkNumber,
  checkOneOf,
  checkPositive,
  closestName,
  formatValue,
} from './check.js';

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

  it('rejects unknown keys with the full path, the value, a hint when one is known, and the known options', () => {
    expect(() => checkKnownKeys({ a: 1 }, 'opt', ['a'])).not.toThrow();
    const error = configError(() => checkKnownKeys({ retries: 2 }, 'retry', ['maxAttempts'], { retries: 'use maxAttempts' }));
    expect(error.message).toBe('retry.retries is not a known option; got 2; use maxAttempts; known options: maxAttempts');
    expect(error.field).toBe('retry.retries');
  });

  it('suggests the closest name at any depth, including a unit left off', () => {
    const error = configError(() => checkKnownKeys({ initialDelay: 100 }, 'retry.backoff', ['kind', 'initialDelayMs', 'maxDelayMs']));
    expect(error.message).toBe(
      'retry.backoff.initialDelay is not a known option (did you mean "initialDelayMs"?); got 100; known options: kind, initialDelayMs, maxDelayMs',
    );
    expect(error.field).toBe('retry.backoff.initialDelay');
    expect(closestName('concurency', ['name', 'concurrency'])).toBe('concurrency');
    expect(closestName('parallelismLevel', ['name', 'concurrency'])).toBeUndefined();
  });

  it('suggests the closest allowed value', () => {
    expect(configError(() => checkOneOf('fulll', 'full', 'retry.backoff.jitter', ['none', 'full'])).message).toBe(
      'retry.backoff.jitter must be one of none, full (did you mean "full"?); got "fulll"',
    );
  });
});

describe('the number and function shorthands', () => {
  it('share the one message shape', () => {
    expect(configError(() => checkInteger(0, 'concurrency', 4, 1, 10_000)).message).toBe(
      'concurrency must be an integer from 1 to 10000; got 0',
    );
    expect(configError(() => checkPositive(-1, 'checkpoint.everyMs', 1000)).message).toBe(
      'checkpoint.everyMs must be a finite number > 0; got -1',
    );
    expect(configError(() => checkFraction(2, 'maxFailureRate', 0.05)).message).toBe(
      'maxFailureRate must be a finite number from 0 to 1 (0.05 means 5%); got 2',
    );
    const error = configError(() => checkFunction('x', 'handler', 'an async function (record, ctx) => result'));
    expect(error.message).toBe('handler must be an async function (record, ctx) => result; got "x"');
    expect(error.field).toBe('handler');
    expect(checkInteger(undefined, 'n', 7, 1, 10)).toBe(7);
  });
});
