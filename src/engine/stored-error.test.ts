import { describe, expect, it } from 'vitest';
import { BatchguardError, FatalError, RetryableError } from '../errors.js';
import { failureFingerprint } from '../policy/fingerprint.js';
import { serializeError, type SerializedError } from '../policy/serialize-error.js';
import { HeldErrors, LazySerializedError, safeIdentity, safeSerialize } from './stored-error.js';

const revoked = (): unknown => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};
const trap = (): never => {
  throw new Error('trap');
};

describe('safeSerialize', () => {
  it.each([
    ['a revoked proxy', revoked],
    [
      'a proxy whose traps throw',
      () => new Proxy({}, { get: trap, getPrototypeOf: trap, ownKeys: trap, has: trap, getOwnPropertyDescriptor: trap }),
    ],
    ['an error caused by a revoked proxy', () => new Error('outer', { cause: revoked() })],
    ['null', () => null],
    ['a symbol', () => Symbol('s')],
    ['an object whose toString throws', () => ({ toString: trap, [Symbol.toPrimitive]: trap })],
  ])('gives a name and a message for %s, without throwing', (_name, make) => {
    const stored = safeSerialize(make());
    expect(typeof stored.name).toBe('string');
    expect(typeof stored.message).toBe('string');
    expect(() => JSON.stringify(stored)).not.toThrow();
  });

  it('keeps an ordinary error as serializeError gives it, without engine frames', () => {
    const stored = safeSerialize(new RangeError('out of range'));
    expect(stored).toMatchObject({ name: 'RangeError', message: 'out of range' });
    expect(stored.stack).not.toContain('/src/engine/');
  });

  describe('drops the engine frames before redacting and cutting, storing what dropping them afterwards stored', () => {
    const srcDir = new URL('../', import.meta.url).pathname;
    const engineLine = (fn: string): string => `    at ${fn} (${srcDir}engine/record-executor.ts:12:3)`;
    const withStack = <E extends Error>(error: E, userLines: string[]): E => {
      error.stack = [
        `${error.name}: ${error.message}`,
        ...userLines,
        engineLine('inAttempt'),
        '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
        engineLine('RecordExecutor.call'),
      ].join('\n');
      return error;
    };
    /** What safeSerialize stored before: the serialized error, then the engine frames dropped along the cause chain. */
    const droppedAfter = (error: SerializedError): SerializedError => ({
      ...error,
      ...(error.stack !== undefined
        ? {
            stack: error.stack
              .split('\n')
              .filter((line) => !(line.trimStart().startsWith('at ') && (line.includes(srcDir) || line.includes('node:internal'))))
              .join('\n'),
          }
        : {}),
      ...(error.cause ? { cause: droppedAfter(error.cause) } : {}),
    });
    it.each([
      ['a handler error', () => withStack(new Error('boom'), ['    at handler (/app/job.js:3:9)'])],
      [
        'a secret in a user frame and in the message',
        () =>
          withStack(new Error('GET https://api.test/x?api_key=s3cr3tvalue failed'), [
            '    at fetchIt (https://api.test/x?api_key=s3cr3tvalue:1:1)',
          ]),
      ],
      [
        'a cause chain',
        () =>
          withStack(
            new Error('outer', {
              cause: withStack(Object.assign(new Error('inner'), { code: 'ECONNRESET' }), ['    at socket (/app/db.js:9:1)']),
            }),
            ['    at handler (/app/job.js:3:9)'],
          ),
      ],
      [
        'an aggregate, whose errors keep their stacks whole as before',
        () =>
          withStack(new AggregateError([withStack(new Error('one'), ['    at a (/app/a.js:1:1)'])], 'all failed'), [
            '    at handler (/app/job.js:3:9)',
          ]),
      ],
    ])('%s', (_name, make) => {
      const stored = safeSerialize(make());
      expect(stored).toEqual(droppedAfter(serializeError(make())));
      expect(JSON.stringify(stored)).not.toContain('s3cr3tvalue');
    });
  });
});

/** What a fingerprint reads of each link of a serialized cause chain, and where the chain was cut. */
function chainIdentity(error: SerializedError): unknown[] {
  const links: unknown[] = [];
  for (let link: SerializedError | undefined = error; link; link = link.cause) {
    links.push([link.name, link.code, link.status, link.group, link.circular, link.truncated]);
  }
  return links;
}

function chainOf(depth: number): Error {
  let error = new Error('bottom', { cause: Object.assign(new Error('deepest'), { code: 'EDEEP' }) });
  for (let i = 0; i < depth; i++) error = Object.assign(new Error(`level ${i}`), { code: `E${i}`, cause: error });
  return error;
}

function cycle(): Error {
  const a = Object.assign(new Error('a'), { code: 'EA' });
  const b = Object.assign(new Error('b'), { status: 503, cause: a });
  a.cause = b;
  return a;
}

const throwing = (): Error => {
  const error = new Error('getters throw');
  for (const field of ['code', 'status', 'cause', 'group', 'name']) {
    Object.defineProperty(error, field, {
      get() {
        throw new Error(`no ${field}`);
      },
    });
  }
  return error;
};

describe('safeIdentity', () => {
  it.each([
    ['a plain error', () => new Error('boom')],
    ['a string code', () => Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })],
    ['a numeric code', () => Object.assign(new Error('db'), { code: 1205 })],
    ['an HTTP status', () => Object.assign(new Error('unavailable'), { status: 503 })],
    ['a statusCode as text', () => Object.assign(new Error('unavailable'), { statusCode: '429' })],
    ['a response status', () => Object.assign(new Error('not found'), { response: { status: 404 } })],
    ['a FatalError with a group', () => new FatalError('no match for Zürich', { group: 'geocoder-miss' })],
    ['a RetryableError with a group', () => new RetryableError('slow', { group: 'slow-upstream' })],
    ['a group on an error that cannot name one', () => Object.assign(new Error('x'), { group: 'ignored' })],
    ['a wrapper around a grouped error', () => new BatchguardError('WRAP', 'outer', { cause: new FatalError('in', { group: 'g' }) })],
    ['a fetch failure', () => new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) })],
    ['a name longer than a field may be', () => Object.assign(new Error('long'), { name: 'N'.repeat(500), code: 'C'.repeat(500) })],
    ['an error named by its constructor only', () => Object.assign(new (class CustomError extends Error {})('x'), { name: '' })],
    ['a thrown plain object', () => ({ error: 'rate_limited', code: 'E429' })],
    ['a string', () => 'just text'],
    ['undefined', () => undefined],
    ['a symbol', () => Symbol('s')],
    ['a cause chain deeper than is followed', () => chainOf(12)],
    ['a cycle of causes', cycle],
    [
      'an AggregateError',
      () => new AggregateError([Object.assign(new Error('a'), { code: 'EA' }), 'b'], 'all failed', { cause: new Error('c') }),
    ],
    ['getters that throw', throwing],
    ['a revoked proxy', revoked],
    ['an error caused by a revoked proxy', () => new Error('outer', { cause: revoked() })],
    ['a proxy whose traps throw', () => new Proxy({}, { get: trap, getPrototypeOf: trap, ownKeys: trap, has: trap })],
  ])('gives what safeSerialize gives a fingerprint, for %s', (_name, make) => {
    const thrown = make();
    const identity = safeIdentity(thrown);
    const full = safeSerialize(thrown);
    expect(chainIdentity(identity)).toEqual(chainIdentity(full));
    const context = { kind: 'exhausted', rule: 'retryable-default' };
    expect(failureFingerprint(identity, context)).toBe(failureFingerprint(full, context));
    // Nothing of the costly part: no stack read, no text redacted.
    expect(identity.stack).toBeUndefined();
    expect(identity.message).toBe('');
  });

  it('reads no stack, message or extra field', () => {
    const read: string[] = [];
    const error = new Proxy(Object.assign(new Error('watched'), { code: 'E1', errno: -111 }), {
      get(target, property, receiver) {
        if (typeof property === 'string') read.push(property);
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    safeIdentity(error);
    expect(read).not.toContain('stack');
    expect(read).not.toContain('message');
    expect(read).not.toContain('errno');
  });
});

describe('LazySerializedError', () => {
  it('serialises the thrown value on first read, once, as safeSerialize does', () => {
    let stackReads = 0;
    const error = new Error('later');
    const stack = error.stack;
    Object.defineProperty(error, 'stack', {
      get() {
        stackReads++;
        return stack;
      },
    });
    const lazy = new LazySerializedError(error, undefined);
    expect(stackReads).toBe(0);
    const serialized = lazy.value;
    expect(lazy.value).toBe(serialized);
    expect(stackReads).toBe(1);
    expect(serialized).toEqual(safeSerialize(error));
  });

  it('keeps a serialization given to it', () => {
    const serialized = { name: 'Error', message: 'given' };
    expect(LazySerializedError.of(serialized).value).toBe(serialized);
  });
});

describe('HeldErrors', () => {
  it("keeps at most its maximum of thrown values unserialised, and counts a record's again once it is released", () => {
    const held = new HeldErrors(2);
    const records = [{}, {}, {}] as { heldErrors?: number }[];
    const failures = records.map(() => new LazySerializedError(new Error('unavailable'), undefined));
    records.forEach((record, i) => held.hold(record, failures[i] as LazySerializedError));
    expect(failures.map((failure) => failure.held)).toEqual([true, true, false]);
    expect(held.held).toBe(2);
    held.release(records[0] as { heldErrors?: number });
    expect(held.held).toBe(1);
    const next = new LazySerializedError(new Error('unavailable'), undefined);
    held.hold(records[2] as { heldErrors?: number }, next);
    expect(next.held).toBe(true);
    // Serialised already: nothing to count.
    held.hold(records[2] as { heldErrors?: number }, LazySerializedError.of({ name: 'Error', message: 'x' }));
    expect(held.held).toBe(2);
    expect(records.map((record) => record.heldErrors)).toEqual([0, 1, 1]);
  });
});
