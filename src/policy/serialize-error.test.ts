import { describe, it, expect } from 'vitest';
import { RetryableError, TimeoutError } from '../errors.js';
import { MAX_AGGREGATED_ERRORS, MAX_CAUSE_DEPTH, causeChain, serializeError } from './serialize-error.js';

function roundTrip(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe('serializeError', () => {
  it('keeps name, message, stack and the cause chain', () => {
    const inner = new RangeError('inner');
    const outer = new Error('outer', { cause: inner });
    const s = serializeError(outer);
    expect(s.name).toBe('Error');
    expect(s.message).toBe('outer');
    expect(s.stack).toContain('outer');
    expect(s.cause?.name).toBe('RangeError');
    expect(s.cause?.message).toBe('inner');
    expect(roundTrip(s)).toEqual(s);
  });

  it('keeps code, status (from any spelling) and the listed extra fields', () => {
    const sys = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
      errno: -111,
      syscall: 'connect',
      address: '127.0.0.1',
      port: 5432,
      config: { headers: { authorization: 'Bearer secret' } },
    });
    const s = serializeError(sys);
    expect(s).toMatchObject({ code: 'ECONNREFUSED', errno: -111, syscall: 'connect', address: '127.0.0.1', port: 5432 });
    expect(s).not.toHaveProperty('config');
    expect(serializeError(Object.assign(new Error('x'), { statusCode: 404 })).status).toBe(404);
    expect(serializeError(Object.assign(new Error('x'), { response: { status: 503 } })).status).toBe(503);
    expect(serializeError(new RetryableError('slow down', { retryAfterMs: 1500 })).retryAfterMs).toBe(1500);
    expect(serializeError(new TimeoutError(100))).toMatchObject({ name: 'TimeoutError', code: 'TIMEOUT', timeoutMs: 100 });
  });

  it('serializes non-Error throws', () => {
    expect(serializeError('plain string')).toEqual({ name: 'NonError', message: 'plain string' });
    expect(serializeError(null)).toEqual({ name: 'NonError', message: 'null' });
    expect(serializeError(undefined)).toEqual({ name: 'NonError', message: 'undefined' });
    expect(serializeError(42)).toEqual({ name: 'NonError', message: '42' });
    expect(serializeError(10n)).toEqual({ name: 'NonError', message: '10' });
    expect(serializeError(function named() {})).toEqual({ name: 'NonError', message: '[function named]' });
    expect(serializeError({ error: 'rate_limited' })).toEqual({ name: 'NonError', message: '{"error":"rate_limited"}' });
    expect(serializeError({ name: 'ApiError', message: 'nope', code: 'E1', status: 409 })).toEqual({
      name: 'ApiError',
      message: 'nope',
      code: 'E1',
      status: 409,
    });
  });

  it('stops at a circular cause and marks it', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    const s = serializeError(a);
    expect(s.cause?.message).toBe('b');
    expect(s.cause?.cause).toEqual({ name: 'Error', message: 'a', circular: true });
    expect(roundTrip(s)).toEqual(s);
  });

  it('marks an error that is its own cause', () => {
    const self = new Error('self');
    (self as { cause?: unknown }).cause = self;
    expect(serializeError(self).cause).toEqual({ name: 'Error', message: 'self', circular: true });
  });

  it('bounds the depth and marks the cut', () => {
    let error = new Error('e0');
    for (let i = 1; i <= 20; i++) error = new Error(`e${i}`, { cause: error });
    let node = serializeError(error);
    let depth = 0;
    while (node.cause) {
      node = node.cause;
      depth++;
    }
    expect(depth).toBe(MAX_CAUSE_DEPTH + 1);
    expect(node).toEqual({ name: 'Error', message: `e${20 - MAX_CAUSE_DEPTH - 1}`, truncated: true });
  });

  it("serializes an AggregateError's errors, bounded", () => {
    const agg = new AggregateError([new Error('one'), 'two', Object.assign(new Error('three'), { code: 'ECONNRESET' })], 'all failed');
    const s = serializeError(agg);
    expect(s.name).toBe('AggregateError');
    expect(s.errors?.map((e) => e.message)).toEqual(['one', 'two', 'three']);
    expect(s.errors?.[1]?.name).toBe('NonError');
    expect(s.errors?.[2]?.code).toBe('ECONNRESET');

    const many = new AggregateError(Array.from({ length: MAX_AGGREGATED_ERRORS + 5 }, (_, i) => new Error(String(i))), 'many');
    const sm = serializeError(many);
    expect(sm.errors).toHaveLength(MAX_AGGREGATED_ERRORS);
    expect(sm.omittedErrors).toBe(5);
  });

  it('does not treat the same error in sibling positions as a cycle', () => {
    const shared = new Error('shared');
    const agg = new AggregateError([shared, shared], 'twice', { cause: shared });
    const s = serializeError(agg);
    expect(s.cause).not.toHaveProperty('circular');
    expect(s.errors?.[1]).not.toHaveProperty('circular');
  });

  it('survives throwing getters, odd messages and circular plain objects', () => {
    const hostile = new Error('hostile');
    Object.defineProperty(hostile, 'cause', {
      get() {
        throw new Error('getter');
      },
    });
    expect(serializeError(hostile)).not.toHaveProperty('cause');

    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(serializeError(circular)).toEqual({ name: 'NonError', message: '[object Object]' });

    const weird = new Error('x');
    (weird as { message: unknown }).message = { not: 'a string' };
    (weird as { name: unknown }).name = '';
    expect(serializeError(weird)).toMatchObject({ name: 'Error', message: '' });
    expect(() => JSON.stringify(serializeError(weird))).not.toThrow();
  });
});

describe('causeChain', () => {
  it('lists the error then each cause, outermost first', () => {
    const c = 'root cause string';
    const b = new Error('b', { cause: c });
    const a = new Error('a', { cause: b });
    expect(causeChain(a)).toEqual([a, b, c]);
    expect(causeChain('x')).toEqual(['x']);
  });

  it('stops at a cycle and at the depth bound', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(causeChain(a)).toEqual([a, b]);

    let deep = new Error('0');
    for (let i = 1; i < 50; i++) deep = new Error(String(i), { cause: deep });
    expect(causeChain(deep)).toHaveLength(MAX_CAUSE_DEPTH + 1);
  });
});
