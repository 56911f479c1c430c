import { describe, it, expect } from 'vitest';
import { FatalError, RetryableError, TimeoutError } from '../errors.js';
import { Classification, RETRYABLE_ERROR_CODES, classifyError, type ClassifyHook } from './classify.js';

function withFields(message: string, fields: Record<string, unknown>, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), fields);
}

function sysError(code: string): Error {
  return withFields(`${code.toLowerCase()} happened`, { code });
}

describe('classifyError: RetryableError and FatalError', () => {
  it('honours them at the top level', () => {
    expect(classifyError(new RetryableError('try again'))).toEqual({ classification: 'retryable', rule: 'RetryableError' });
    expect(classifyError(new FatalError('never'))).toEqual({ classification: 'fatal', rule: 'FatalError' });
  });

  it('finds them anywhere in the cause chain, and they beat every other rule', () => {
    const deep = new Error('a', { cause: new Error('b', { cause: new FatalError('bad input') }) });
    expect(classifyError(deep)).toEqual({ classification: 'fatal', rule: 'FatalError' });
    // 404 would be fatal and TypeError fatal, but the explicit marker decides.
    const wrapped404 = withFields('not found', { status: 404 }, new RetryableError('eventually consistent'));
    expect(classifyError(wrapped404).classification).toBe('retryable');
    expect(classifyError(new TypeError('x', { cause: new RetryableError('r') })).rule).toBe('RetryableError');
  });

  it('lets the outermost marker win', () => {
    expect(classifyError(new RetryableError('outer', { cause: new FatalError('inner') })).rule).toBe('RetryableError');
    expect(classifyError(new FatalError('outer', { cause: new RetryableError('inner') })).rule).toBe('FatalError');
  });

  it('beats the hook', () => {
    expect(classifyError(new FatalError('x'), () => 'retryable').classification).toBe('fatal');
  });
});

describe('classifyError: the hook', () => {
  it('decides when it returns a classification, and is called with the top-level error', () => {
    const seen: unknown[] = [];
    const hook: ClassifyHook = (error) => {
      seen.push(error);
      return Classification.fatal;
    };
    const error = withFields('upstream', { status: 503 });
    expect(classifyError(error, hook)).toEqual({ classification: 'fatal', rule: 'classify-hook' });
    expect(seen).toEqual([error]);
  });

  it('falls through to the built-in rules when it returns undefined', () => {
    expect(classifyError(withFields('x', { status: 503 }), () => undefined)).toEqual({
      classification: 'retryable',
      rule: 'http-status-503',
    });
  });

  it('is ignored, with the reason reported, when it throws', () => {
    const boom = new Error('hook bug');
    const result = classifyError(withFields('x', { status: 404 }), () => {
      throw boom;
    });
    expect(result).toEqual({ classification: 'fatal', rule: 'http-status-404', hookError: boom });
  });

  it('is ignored, with the reason reported, when it returns something invalid', () => {
    const bad = (() => 'Fatal') as unknown as ClassifyHook;
    const result = classifyError(new Error('x'), bad);
    expect(result.rule).toBe('default');
    expect(result.hookError).toBeInstanceOf(TypeError);
    expect((result.hookError as Error).message).toBe(`classify must return 'retryable', 'fatal' or undefined; got "Fatal"`);

    const asyncHook = (async () => 'fatal') as unknown as ClassifyHook;
    expect((classifyError(new Error('x'), asyncHook).hookError as Error).message).toContain('a Promise (it must be synchronous)');
  });
});

describe('classifyError: HTTP status', () => {
  it.each([408, 425, 429, 500, 502, 503, 504, 599])('%i is retryable', (status) => {
    expect(classifyError(withFields('http', { status }))).toEqual({ classification: 'retryable', rule: `http-status-${status}` });
  });

  it.each([400, 401, 403, 404, 409, 410, 422, 451, 499])('%i is fatal', (status) => {
    expect(classifyError(withFields('http', { status }))).toEqual({ classification: 'fatal', rule: `http-status-${status}` });
  });

  it('reads statusCode and response.status, anywhere in the chain', () => {
    expect(classifyError(withFields('x', { statusCode: 404 })).rule).toBe('http-status-404');
    expect(classifyError(withFields('x', { response: { status: 429 } })).rule).toBe('http-status-429');
    const wrapped = new Error('geocoding failed', { cause: withFields('Not Found', { status: 404 }) });
    expect(classifyError(wrapped)).toEqual({ classification: 'fatal', rule: 'http-status-404' });
  });

  it('ignores non-error statuses and lets the next rule decide', () => {
    expect(classifyError(withFields('bad json', { status: 200 })).rule).toBe('default');
    expect(classifyError(new TypeError('x', { cause: withFields('redirect', { status: 302 }) })).rule).toBe('programming-TypeError');
  });

  it('comes before network codes when both are present', () => {
    const error = withFields('bad request', { status: 400 }, sysError('ECONNRESET'));
    expect(classifyError(error).rule).toBe('http-status-400');
  });
});

describe('classifyError: network errors', () => {
  it.each(RETRYABLE_ERROR_CODES.map((code) => [code]))('%s is retryable', (code) => {
    expect(classifyError(sysError(code))).toEqual({ classification: 'retryable', rule: `network-${code}` });
  });

  it('recognises "socket hang up" without a code', () => {
    expect(classifyError(new Error('socket hang up'))).toEqual({ classification: 'retryable', rule: 'network-socket-hang-up' });
  });

  it("retries fetch's TypeError when its cause is a network error", () => {
    const fetchFailed = new TypeError('fetch failed', { cause: sysError('ECONNREFUSED') });
    expect(classifyError(fetchFailed)).toEqual({ classification: 'retryable', rule: 'network-ECONNREFUSED' });
    // Node's fetch reports a body cut short as TypeError('terminated') caused by undici's SocketError.
    const terminated = new TypeError('terminated', {
      cause: withFields('other side closed', { name: 'SocketError', code: 'UND_ERR_SOCKET' }),
    });
    expect(classifyError(terminated).rule).toBe('network-UND_ERR_SOCKET');
  });

  it('retries "fetch failed" with an unrecognised cause under its own rule, not as a TypeError', () => {
    expect(classifyError(new TypeError('fetch failed', { cause: new Error('bad port') }))).toEqual({
      classification: 'retryable',
      rule: 'fetch-failed',
    });
  });

  it('does not treat unknown codes as network errors', () => {
    expect(classifyError(new TypeError('x', { cause: sysError('ENOENT') })).rule).toBe('programming-TypeError');
  });
});

describe('classifyError: timeouts, programming errors and the default', () => {
  it('retries TimeoutError, also when wrapped, and DOMException-style timeouts', () => {
    expect(classifyError(new TimeoutError(1000))).toEqual({ classification: 'retryable', rule: 'timeout' });
    expect(classifyError(new TypeError('wrapped', { cause: new TimeoutError(5) })).rule).toBe('timeout');
    // What AbortSignal.timeout() rejects with.
    expect(classifyError(new DOMException('The operation was aborted due to timeout', 'TimeoutError')).rule).toBe('timeout');
  });

  it.each([
    [new TypeError("Cannot read properties of undefined (reading 'id')"), 'programming-TypeError'],
    [new ReferenceError('x is not defined'), 'programming-ReferenceError'],
    [new SyntaxError('Unexpected token < in JSON'), 'programming-SyntaxError'],
    [new RangeError('Invalid array length'), 'programming-RangeError'],
  ])('%s is fatal', (error, rule) => {
    expect(classifyError(error)).toEqual({ classification: 'fatal', rule });
  });

  it('finds programming errors in the cause chain and by name across realms', () => {
    expect(classifyError(new Error('handler failed', { cause: new ReferenceError('oops') })).rule).toBe('programming-ReferenceError');
    expect(classifyError({ name: 'SyntaxError', message: 'from a vm context' }).rule).toBe('programming-SyntaxError');
    class SubTypeError extends TypeError {
      override name = 'ValidationError';
    }
    expect(classifyError(new SubTypeError('bad')).rule).toBe('programming-TypeError');
  });

  it('retries anything else', () => {
    expect(classifyError(new Error('something odd'))).toEqual({ classification: 'retryable', rule: 'default' });
    expect(classifyError('a string')).toEqual({ classification: 'retryable', rule: 'default' });
    expect(classifyError(null)).toEqual({ classification: 'retryable', rule: 'default' });
  });

  it('terminates on a cyclic cause chain', () => {
    const a = new Error('a');
    (a as { cause?: unknown }).cause = new Error('b', { cause: a });
    expect(classifyError(a).rule).toBe('default');
  });
});

describe('classifyError: whatever was thrown', () => {
  const revoked = (): unknown => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  };
  const trap = (): never => {
    throw new Error('trap');
  };
  const hostile: [string, () => unknown][] = [
    ['a revoked proxy', revoked],
    [
      'a proxy whose every trap throws',
      () => new Proxy({}, { get: trap, getPrototypeOf: trap, ownKeys: trap, has: trap, getOwnPropertyDescriptor: trap }),
    ],
    [
      'an error whose getters throw',
      () =>
        Object.defineProperties(new Error('x'), { message: { get: trap }, name: { get: trap }, code: { get: trap }, cause: { get: trap } }),
    ],
    ['an error caused by a revoked proxy', () => new Error('outer', { cause: revoked() })],
    ['null', () => null],
    ['undefined', () => undefined],
    ['a symbol', () => Symbol('thrown')],
    ['a BigInt', () => 10n],
    ['an object whose toString throws', () => ({ toString: trap, [Symbol.toPrimitive]: trap })],
  ];

  it.each(hostile)('never throws for %s, with or without a hook', (_name, make) => {
    const value = make();
    expect(classifyError(value)).toEqual({ classification: 'retryable', rule: 'default' });
    expect(classifyError(value, () => 'fatal')).toEqual({ classification: 'fatal', rule: 'classify-hook' });
    expect(classifyError(value, trap).hookError).toBeInstanceOf(Error);
  });

  it('a hook returning something unprintable is ignored with a readable hookError', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    for (const returned of [10n, loop, revoked()]) {
      const result = classifyError(new Error('x'), () => returned as never);
      expect(result.rule).toBe('default');
      expect(String((result.hookError as Error).message)).toMatch(/^classify must return 'retryable', 'fatal' or undefined; got /);
    }
  });
});
