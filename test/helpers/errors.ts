import { ConfigError } from '../../src/errors.js';

/**
 * Calls `fn` and returns the error it throws, which must be an `ErrorClass`: any other error is
 * rethrown as it is, and returning normally fails with "expected a <ErrorClass>".
 */
export function thrown<E extends Error>(fn: () => unknown, ErrorClass: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (error) {
    if (error instanceof ErrorClass) return error;
    throw error;
  }
  throw new Error(`expected a ${ErrorClass.name}`);
}

/** The ConfigError `fn` throws (see `thrown`). */
export function configError(fn: () => unknown): ConfigError {
  return thrown(fn, ConfigError);
}
