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
    loaded = { pg: require(path) as PgModule, path };
    return loaded;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw error;
    throw new ConfigError(
      `${field} postgres:…: the PostgreSQL ledger needs the pg package, which is not installed; install it beside batchguard with \`npm install pg@8\``,
      { field, cause: error },
    );
  }
}
