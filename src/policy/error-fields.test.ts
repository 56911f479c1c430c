import { describe, it, expect } from 'vitest';
import { errorCodeOf, errorMessageOf, errorNameOf, httpStatusOf, readProp, withCause } from './error-fields.js';

describe('readProp', () => {
  it('reads properties of objects and functions, and nothing of primitives', () => {
    expect(readProp({ a: 1 }, 'a')).toBe(1);
    expect(
      readProp(
        Object.assign(() => 0, { a: 2 }),
        'a',
      ),
    ).toBe(2);
    expect(readProp('text', 'length')).toBeUndefined();
    expect(readProp(null, 'a')).toBeUndefined();
    expect(readProp(undefined, 'a')).toBeUndefined();
  });

  it('returns undefined when the getter throws', () => {
    const hostile = Object.defineProperty({}, 'cause', {
      get() {
        throw new Error('boom');
      },
    });
    expect(readProp(hostile, 'cause')).toBeUndefined();
  });
});

describe('httpStatusOf', () => {
  it('reads status, statusCode, response.status and response.statusCode', () => {
    expect(httpStatusOf({ status: 503 })).toBe(503);
    expect(httpStatusOf({ statusCode: 404 })).toBe(404);
    expect(httpStatusOf({ response: { status: 429 } })).toBe(429);
    expect(httpStatusOf({ response: { statusCode: 502 } })).toBe(502);
    expect(httpStatusOf({ status: '500' })).toBe(500);
  });

  it('ignores values that are not HTTP statuses', () => {
    expect(httpStatusOf({ status: 'failed' })).toBeUndefined();
    expect(httpStatusOf({ status: 42 })).toBeUndefined();
    expect(httpStatusOf({ status: 503.5 })).toBeUndefined();
    expect(httpStatusOf(new Error('x'))).toBeUndefined();
  });
});

describe('errorCodeOf, errorNameOf, errorMessageOf', () => {
  it('reads string codes and stringifies numeric ones', () => {
    expect(errorCodeOf(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(errorCodeOf({ code: 1062 })).toBe('1062');
    expect(errorCodeOf({ code: '' })).toBeUndefined();
    expect(errorCodeOf({ code: {} })).toBeUndefined();
  });

  it('reads names and messages only when they are strings', () => {
    expect(errorNameOf(new RangeError('x'))).toBe('RangeError');
    expect(errorNameOf({ name: 3 })).toBeUndefined();
    expect(errorMessageOf(new Error('hello'))).toBe('hello');
    expect(errorMessageOf({ message: 3 })).toBeUndefined();
  });
});

describe('withCause', () => {
  it('sets the cause of an error that has none, and leaves what cannot take one as it is', () => {
    const cause = new Error('the handler failed');
    expect((withCause(new Error('policy'), cause) as Error).cause).toBe(cause);
    const own = new Error('own cause');
    expect((withCause(new Error('policy', { cause: own }), cause) as Error).cause).toBe(own);
    const frozen = Object.freeze(new Error('frozen'));
    expect(withCause(frozen, cause)).toBe(frozen);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(withCause(proxy, cause)).toBe(proxy);
    expect(withCause('a string', cause)).toBe('a string');
  });
});
