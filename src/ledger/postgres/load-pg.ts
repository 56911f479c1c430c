/**
 * node-postgres (`pg`) is an optional peer dependency: the core install stays without it, and it is
 * loaded only when a `postgres:` ledger is opened. `pg` is CommonJS, so a synchronous `require`
 * loads it and `openLedger` stays synchronous (connections are made at the first query).
 */
import { createRequire } from 'node:module';
import type pg from 'pg';
import { ConfigError } from '../../errors.js';

export type PgModule = typeof pg;

/** The loaded module and the file it was loaded from (its own dependencies are found from there). */
export interface LoadedPg {
  readonly pg: PgModule;
  readonly path: string;
}

let loaded: LoadedPg | undefined;

/** The `pg` module, or a ConfigError saying how to install it. `require` is replaced only by tests. */
export function loadPg(field: string, require: NodeJS.Require = createRequire(import.meta.url)): LoadedPg {
  if (loaded) return loaded;
  try {
    const path = require.resolve('pg');
    loaded = { pg: requireWithoutFetch(require, path) as PgModule, path };
    return loaded;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw error;
    throw new ConfigError(
      `${field} postgres:…: the PostgreSQL ledger needs the pg package, which is not installed; install it beside batchguard with \`npm install pg@8\``,
      { field, cause: error },
    );
  }
}

/**
 * Requires `path` (pg) with the global `Response` hidden, when there is no global `navigator`
 * (Node 20). pg 8 asks at load whether it runs in a Cloudflare Worker, and without `navigator` it
 * constructs a `Response` to find out, which makes Node load its fetch implementation (undici):
 * ~25 ms of CPU (`node -e "new Response(null)"`), a tenth of a 10,000-record run on the PostgreSQL
 * ledger, paid by every process that opens one. The property is taken off the global object and
 * put back as it was (its lazy getter never runs), in the same synchronous call, so nothing else
 * sees it missing; pg then takes Node's sockets, as it does anyway outside a Worker, whose
 * `navigator` says so (then nothing is hidden). A pg whose load fails without `Response` is loaded
 * again with it.
 */
export function requireWithoutFetch(require: NodeJS.Require, path: string): unknown {
  const descriptor = 'navigator' in globalThis ? undefined : Object.getOwnPropertyDescriptor(globalThis, 'Response');
  if (descriptor?.configurable !== true) return require(path);
  delete (globalThis as { Response?: unknown }).Response;
  try {
    return require(path);
  } catch {
    // A pg that needs `Response` at load (a later 8.x): loaded below with it, as without this
    // function. Node drops a module whose load threw from its cache, so that load starts afresh.
  } finally {
    Object.defineProperty(globalThis, 'Response', descriptor);
  }
  return require(path);
}
