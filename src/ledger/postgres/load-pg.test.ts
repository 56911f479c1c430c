import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../errors.js';
import { loadPg, requireWithoutFetch } from './load-pg.js';

/** A `require` that finds no `pg`, as in a project that did not install it. */
function requireWithoutPg(): NodeJS.Require {
  const missing = (): never => {
    throw Object.assign(new Error("Cannot find module 'pg'"), { code: 'MODULE_NOT_FOUND' });
  };
  return Object.assign(missing, { resolve: missing }) as unknown as NodeJS.Require;
}

describe('loadPg', () => {
  it('says how to install pg when it is missing', () => {
    const error = (() => {
      try {
        loadPg('--ledger', requireWithoutPg());
      } catch (thrown) {
        return thrown;
      }
      throw new Error('expected an error');
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      '--ledger postgres:…: the PostgreSQL ledger needs the pg package, which is not installed; install it beside batchguard with `npm install pg@8`',
    );
  });

  it('loads pg when it is installed', () => {
    expect(typeof loadPg('--ledger', createRequire(import.meta.url)).pg.Pool).toBe('function');
  });

  it("loads pg without constructing a Response (Node 20 would load its fetch for pg's Cloudflare check), and puts Response back as it was", () => {
    const before = Object.getOwnPropertyDescriptor(globalThis, 'Response');
    let seen: string | undefined;
    // What pg's check does at load when there is no global navigator.
    const fakePg = Object.assign(
      () => {
        seen = typeof Response;
        return {};
      },
      { resolve: () => 'pg' },
    ) as unknown as NodeJS.Require;
    requireWithoutFetch(fakePg, 'pg');
    expect(seen).toBe('navigator' in globalThis ? 'function' : 'undefined');
    expect(Object.getOwnPropertyDescriptor(globalThis, 'Response')).toEqual(before);
  });

  it('loads again with Response a pg whose load fails without it', () => {
    let calls = 0;
    const strictPg = Object.assign(
      () => {
        calls++;
        if (typeof Response === 'undefined') throw new ReferenceError('Response is not defined');
        return { loaded: true };
      },
      { resolve: () => 'pg' },
    ) as unknown as NodeJS.Require;
    expect(requireWithoutFetch(strictPg, 'pg')).toEqual({ loaded: true });
    expect(calls).toBe('navigator' in globalThis ? 1 : 2);
    expect(typeof Response).toBe('function');
  });
});
