import { describe, it, expect } from 'vitest';
import { RetryableError, TimeoutError } from '../errors.js';
import {
  ERROR_LIMITS,
  MAX_AGGREGATED_ERRORS,
  MAX_CAUSE_DEPTH,
  causeChain,
  serializeError,
  type SerializedError,
} from './serialize-error.js';

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

    const many = new AggregateError(
      Array.from({ length: MAX_AGGREGATED_ERRORS + 5 }, (_, i) => new Error(String(i))),
      'many',
    );
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
    expect(serializeError(circular)).toEqual({ name: 'NonError', message: '{"self":{"self":{"self":{…}}}}' });

    const weird = new Error('x');
    (weird as { message: unknown }).message = { not: 'a string' };
    (weird as { name: unknown }).name = '';
    expect(serializeError(weird)).toMatchObject({ name: 'Error', message: '' });
    expect(() => JSON.stringify(serializeError(weird))).not.toThrow();
  });
});

describe('serializeError never throws', () => {
  const revoked = (): object => {
    const { proxy, revoke } = Proxy.revocable(new Error('gone'), {});
    revoke();
    return proxy;
  };
  const throwingEverything = new Proxy(
    {},
    {
      get() {
        throw new Error('get');
      },
      has() {
        throw new Error('has');
      },
      ownKeys() {
        throw new Error('ownKeys');
      },
      getPrototypeOf() {
        throw new Error('getPrototypeOf');
      },
      getOwnPropertyDescriptor() {
        throw new Error('descriptor');
      },
    },
  );
  const cyclicA = new Error('a');
  const cyclicB = new Error('b', { cause: cyclicA });
  (cyclicA as { cause?: unknown }).cause = cyclicB;
  const hostileToString = {
    toString() {
      throw new Error('toString');
    },
    toJSON() {
      throw new Error('toJSON');
    },
  };
  const getterError = (): Error =>
    Object.create(Error.prototype, {
      message: {
        get() {
          throw new Error('message');
        },
      },
      name: {
        get() {
          throw new Error('name');
        },
      },
      stack: {
        get() {
          throw new Error('stack');
        },
      },
      code: {
        get() {
          throw new Error('code');
        },
      },
      errors: {
        get() {
          throw new Error('errors');
        },
      },
    });
  const lyingArray = new Proxy([new Error('one')], {
    get(target, key) {
      if (key === 'length') throw new Error('length');
      return Reflect.get(target, key);
    },
  });

  it.each([
    ['a revoked proxy', () => revoked()],
    ['a revoked proxy as cause', () => new Error('outer', { cause: revoked() })],
    ['a revoked proxy among aggregated errors', () => new AggregateError([revoked(), new Error('ok')], 'agg')],
    ['a proxy whose every trap throws', () => throwingEverything],
    ['throwing getters on an Error', getterError],
    ['throwing toString and toJSON', () => hostileToString],
    ['an errors array whose length throws', () => Object.assign(new Error('e'), { errors: lyingArray })],
    ['null', () => null],
    ['undefined', () => undefined],
    ['a symbol', () => Symbol('s')],
    ['a BigInt in a plain object', () => ({ big: 10n })],
    ['a function', () => function named() {}],
    ['a cycle in the cause chain', () => cyclicA],
    ['an object with 200,000 keys', () => Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, i]))],
  ] as [string, () => unknown][])('%s', (_label, make) => {
    // Built inside the test: vitest reads the values of it.each rows to name them.
    const out = serializeError(make());
    expect(typeof out.name).toBe('string');
    expect(typeof out.message).toBe('string');
    expect(JSON.stringify(out).length).toBeLessThan(60_000);
  });

  it('keeps what it can of a revoked proxy and a symbol', () => {
    expect(serializeError(revoked())).toMatchObject({ name: 'NonError', message: expect.any(String) });
    expect(serializeError(Symbol('s'))).toEqual({ name: 'NonError', message: 'Symbol(s)' });
    expect(serializeError(hostileToString).message).toBe('{"toString":[function],"toJSON":[function]}');
  });
});

describe('serializeError bounds what one failure stores', () => {
  it('cuts a huge message and stack with a visible mark', () => {
    const error = new Error('m'.repeat(1_050_000));
    const out = serializeError(error);
    expect(out.message).toBe(
      `${'m'.repeat(ERROR_LIMITS.messageChars)}… [truncated ${(1_050_000 - ERROR_LIMITS.messageChars).toLocaleString('en-US')} chars]`,
    );
    expect(out.stack?.length).toBeLessThan(ERROR_LIMITS.stackChars + 50);
    expect(out.stack).toMatch(/… \[truncated [\d,]+ chars\]$/);
  });

  it('bounds nested AggregateErrors as a whole, not per level', () => {
    let nested: Error = new Error('leaf');
    for (let level = 0; level < 6; level++)
      nested = new AggregateError(
        Array.from({ length: 32 }, () => nested),
        `level ${level}`,
      );
    const out = serializeError(nested);
    let count = 0;
    const visit = (e: SerializedError): void => {
      count++;
      if (e.cause) visit(e.cause);
      e.errors?.forEach(visit);
    };
    visit(out);
    expect(count).toBeLessThanOrEqual(ERROR_LIMITS.errors + 1);
    expect(JSON.stringify(out).length).toBeLessThan(ERROR_LIMITS.totalChars * 2);
  });

  it('renders a thrown plain object with a bounded number of keys', () => {
    const out = serializeError(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i])));
    expect(out.message).toMatch(/^\{"k0":0,"k1":1,.*"k19":19,…\+80\}$/);
  });

  it('cuts long kept fields and codes', () => {
    const out = serializeError(Object.assign(new Error('x'), { code: 'C'.repeat(5000), hostname: 'h'.repeat(5000) }));
    expect(out.code?.length).toBeLessThan(ERROR_LIMITS.fieldChars + 40);
    expect(String(out.hostname).length).toBeLessThan(ERROR_LIMITS.fieldChars + 40);
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
