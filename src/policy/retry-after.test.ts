import { describe, it, expect } from 'vitest';
import { RetryableError } from '../errors.js';
import { parseRetryAfter, retryAfterMs } from './retry-after.js';

const NOW = Date.parse('2025-01-01T00:00:00.000Z');

function httpError(fields: Record<string, unknown>, cause?: unknown): Error {
  return Object.assign(new Error('http', cause === undefined ? undefined : { cause }), fields);
}

describe('parseRetryAfter', () => {
  it('reads delta-seconds, including decimals, rounding up to whole ms', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 2 ', NOW)).toBe(2000);
    expect(parseRetryAfter('1.5', NOW)).toBe(1500);
    expect(parseRetryAfter('0.0001', NOW)).toBe(1);
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(3, NOW)).toBe(3000);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', NOW)).toBe(0);
  });

  it('takes the first value of a repeated header', () => {
    expect(parseRetryAfter(['7', '9'], NOW)).toBe(7000);
  });

  it.each([['-5'], ['soon'], [''], ['1e3'], ['12abc'], [-1], [NaN], [Infinity], [null], [undefined], [{}], [[]], ['9'.repeat(400)]])(
    'rejects %j',
    (value) => {
      expect(parseRetryAfter(value, NOW)).toBeUndefined();
    },
  );
});

describe('retryAfterMs', () => {
  it('reads retryAfterMs on the error', () => {
    expect(retryAfterMs(new RetryableError('slow down', { retryAfterMs: 2500 }), NOW)).toBe(2500);
    expect(retryAfterMs(httpError({ retryAfterMs: 0 }), NOW)).toBe(0);
  });

  it('reads a plain-object header in any letter case, string or number', () => {
    expect(retryAfterMs(httpError({ headers: { 'retry-after': '10' } }), NOW)).toBe(10_000);
    expect(retryAfterMs(httpError({ headers: { 'Retry-After': 4 } }), NOW)).toBe(4000);
    expect(retryAfterMs(httpError({ headers: { 'RETRY-AFTER': ['3'] } }), NOW)).toBe(3000);
  });

  it('reads a WHATWG Headers on error.headers or error.response.headers', () => {
    expect(retryAfterMs(httpError({ headers: new Headers({ 'Retry-After': '6' }) }), NOW)).toBe(6000);
    const response = new Response(null, { status: 429, headers: { 'retry-after': 'Wed, 01 Jan 2025 00:01:00 GMT' } });
    expect(retryAfterMs(httpError({ response }), NOW)).toBe(60_000);
  });

  it('reads a Map-like header store', () => {
    expect(retryAfterMs(httpError({ headers: new Map([['Retry-After', '2']]) }), NOW)).toBe(2000);
  });

  it('looks through the cause chain, outermost first', () => {
    const inner = httpError({ response: { status: 429, headers: { 'retry-after': '8' } } });
    expect(retryAfterMs(new Error('wrapper', { cause: inner }), NOW)).toBe(8000);
    const outer = new RetryableError('outer', { retryAfterMs: 100, cause: inner });
    expect(retryAfterMs(outer, NOW)).toBe(100);
  });

  it('skips invalid values and keeps looking', () => {
    const inner = httpError({ headers: { 'retry-after': '5' } });
    const outer = httpError({ retryAfterMs: -1, headers: { 'retry-after': 'later' } }, inner);
    expect(retryAfterMs(outer, NOW)).toBe(5000);
  });

  it('is undefined when there is nothing, or nothing valid', () => {
    expect(retryAfterMs(new Error('plain'), NOW)).toBeUndefined();
    expect(retryAfterMs(httpError({ headers: { 'retry-after': 'never' } }), NOW)).toBeUndefined();
    expect(retryAfterMs(httpError({ retryAfterMs: NaN }), NOW)).toBeUndefined();
    expect(retryAfterMs('string throw', NOW)).toBeUndefined();
    expect(retryAfterMs(null, NOW)).toBeUndefined();
  });

  it('never throws on headers that cannot be read (a revoked proxy, throwing traps)', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const trap = (): never => {
      throw new Error('trap');
    };
    expect(retryAfterMs(httpError({ headers: proxy }), NOW)).toBeUndefined();
    expect(retryAfterMs(httpError({ response: { headers: new Proxy({}, { ownKeys: trap, get: trap }) } }), NOW)).toBeUndefined();
    expect(retryAfterMs(proxy, NOW)).toBeUndefined();
  });
});
