import { describe, expect, it } from 'vitest';
import { safeSerialize, withCause } from './stored-error.js';

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
});

describe('withCause', () => {
  it('sets the cause of an error that has none, and leaves what cannot take one as it is', () => {
    const cause = new Error('the handler failed');
    expect((withCause(new Error('policy'), cause) as Error).cause).toBe(cause);
    const frozen = Object.freeze(new Error('frozen'));
    expect(withCause(frozen, cause)).toBe(frozen);
    const proxy = revoked();
    expect(withCause(proxy, cause)).toBe(proxy);
    expect(withCause('a string', cause)).toBe('a string');
  });
});
