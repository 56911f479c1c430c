/**
 * Where a PostgreSQL ledger is: a `postgres://` (or `postgresql://`) URL, or `postgres:` alone.
 * Whatever the URL leaves out comes from the environment as libpq takes it (PGHOST, PGPORT,
 * PGUSER, PGPASSWORD, PGDATABASE), then libpq's defaults (localhost, 5432, the system user, a
 * database named after the user). So `--ledger postgres:` with PG* variables set names a database
 * without a password on the command line.
 *
 * The password is never part of `location`, which is what messages, summaries and reports show: it
 * is rebuilt from the resolved fields without it, never echoed from the user's text (whose query
 * string may carry a password too).
 */
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import type pg from 'pg';
import { ConfigError } from '../../errors.js';

/** The default schema of the ledger's tables. */
export const DEFAULT_PG_SCHEMA = 'batchguard';

const SCHEME = /^postgres(?:ql)?:/i;
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Whether a ledger value names a PostgreSQL database. */
export function isPostgresSpec(value: string): boolean {
  return SCHEME.test(value);
}

/** What a schema name may be, as messages say it. */
export const PG_SCHEMA_RULE = `a PostgreSQL schema name for the ledger is ASCII letters, digits and underscores, starting with a letter or an underscore, at most 63 characters (default ${DEFAULT_PG_SCHEMA})`;

/** Whether `value` is a schema name checkPgSchema takes. */
export function isPgSchemaName(value: unknown): value is string {
  return typeof value === 'string' && SCHEMA_NAME.test(value);
}

/** Checks a schema name (`--pg-schema`, `pgSchema`): one that needs no quoting, so messages and SQL show it as typed. */
export function checkPgSchema(value: unknown, field: string): string {
  if (value === undefined) return DEFAULT_PG_SCHEMA;
  if (!isPgSchemaName(value)) throw new ConfigError(`${field} ${JSON.stringify(value)}: ${PG_SCHEMA_RULE}`, { field });
  return value;
}

/** A schema name quoted as an identifier (one that checkPgSchema accepted needs no quoting, but SQL quotes it all the same). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** How a ledger at `location` (a PostgresTarget's) in `schema` is shown: never with a password. */
export function ledgerLocationIn(location: string, schema: string): string {
  return `${location} (schema ${schema})`;
}

/** A resolved connection: what `pg` needs, and how to show it. */
export interface PostgresTarget {
  readonly config: pg.PoolConfig;
  /** `postgres://user@host:port/database`: never the password. */
  readonly location: string;
  /** How long a new connection may take to be ready, in ms; 0 waits for ever (see connectTimeoutMs). */
  readonly connectTimeoutMs: number;
}

/**
 * 30 s. pg (and libpq) wait for ever for a server that accepts the connection and never answers (a
 * stuck pooler, a frozen server): a run then hung without a word, a scheduled one for ever.
 */
const DEFAULT_CONNECT_TIMEOUT_S = 30;

/** `connect_timeout` (the URL's, else PGCONNECT_TIMEOUT) as libpq reads it: whole seconds, 0 for no limit. */
function connectTimeoutMs(given: string | undefined): number {
  if (given === undefined) return DEFAULT_CONNECT_TIMEOUT_S * 1000;
  const seconds = Number(given);
  if (!/^\d+$/.test(given.trim()) || !Number.isSafeInteger(seconds)) {
    throw new ConfigError(`connect_timeout of the PostgreSQL ledger must be whole seconds (0: no limit); got ${JSON.stringify(given)}`, {
      field: 'ledger',
    });
  }
  return seconds * 1000;
}

type ConnectionStringParser = { parse(text: string): Record<string, unknown> };

/**
 * Resolves `spec` (already known to start with `postgres:`) with the environment. `pgModulePath` is
 * where `pg` was loaded from: its own URL parser is a dependency of pg, found from there.
 */
export function resolvePostgresTarget(spec: string, pgModulePath: string, env: NodeJS.ProcessEnv = process.env): PostgresTarget {
  const parser = createRequire(pgModulePath)('pg-connection-string') as ConnectionStringParser;
  // `postgres:` alone is not a URL the parser knows; it means "everything from the environment".
  const text = /^postgres(?:ql)?:$/i.test(spec) ? 'postgres://' : spec;
  let parsed: Record<string, unknown>;
  try {
    parsed = parser.parse(text);
  } catch (error) {
    // The parser's message may quote the URL, password included.
    throw new ConfigError('the PostgreSQL ledger URL cannot be parsed; its form is postgres://user:password@host:port/database', {
      field: 'ledger',
      cause: error,
    });
  }
  const given = (name: string): string | undefined => {
    const value = parsed[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const user = given('user') ?? env.PGUSER ?? (env.USER || userInfo().username);
  const host = given('host') ?? env.PGHOST ?? 'localhost';
  const port = Number(given('port') ?? env.PGPORT ?? 5432);
  const database = given('database') ?? env.PGDATABASE ?? user;
  const password = given('password');
  const config: pg.PoolConfig = { ...(parsed as pg.PoolConfig), user, host, port, database };
  // No password in the URL: pg takes PGPASSWORD, then ~/.pgpass, as libpq does.
  if (password === undefined) delete config.password;
  const timeoutMs = connectTimeoutMs(given('connect_timeout') ?? env.PGCONNECT_TIMEOUT);
  const shownHost = host.includes('/') ? encodeURIComponent(host) : host;
  const location = `postgres://${encodeURIComponent(user)}@${shownHost}:${port}/${encodeURIComponent(database)}`;
  return { config, location, connectTimeoutMs: timeoutMs };
}

/**
 * The user's URL as they typed it, minus any password (in the user-info part or a `password=`
 * parameter), for hints that repeat the `--ledger` flag: the password then comes from PGPASSWORD
 * or ~/.pgpass, as for any libpq tool.
 */
export function withoutPassword(spec: string): string {
  return spec
    .replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):[^@/?#]*@/i, '$1@')
    .replace(/([?&])password=[^&#]*(&?)/gi, (_match, before: string, after: string) => (after ? before : ''));
}
