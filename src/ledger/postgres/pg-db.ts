/**
 * The PostgreSQL ledger's access to its database: queries that return plain rows, and
 * transactions, on the handle's pool (pg-pool.ts: how sessions stopped inside a transaction end,
 * and why no connection error is ever uncaught).
 *
 * A pool, not one client: the lease's heartbeat must renew while a commit is running, and
 * `rows()` pages are read while the caller may commit.
 */
import { createHash } from 'node:crypto';
import { BatchguardError, LedgerError } from '../../errors.js';
import { inTransaction, type SqlClient, type SqlPool } from './pg-pool.js';

export type Row = Record<string, unknown>;

/**
 * A statement that each connection prepares once (a named statement): the server parses and plans
 * it at its first run on a connection, and later runs only bind the values. For the statements run
 * many times a run: planning the group commit's statement cost the server about as much CPU again
 * as running it (bench/postgres-commit-statements.mjs).
 */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/** `text` as a named statement, its name derived from the text (two texts never share a name on a connection). */
export function prepared(text: string): Statement {
  return { name: `batchguard_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`, text };
}

/** Runs one statement: the rows it returned, and how many it changed. */
export type Query = (statement: string | Statement, values?: readonly unknown[]) => Promise<{ rows: Row[]; rowCount: number }>;

export class PgDb {
  constructor(
    /** The handle's pool; a worker's coordination uses it too (workers/postgres-worker-ledger.ts). */
    readonly pool: SqlPool,
    readonly location: string,
  ) {}

  readonly query: Query = (text, values) => queryOn(this.pool)(text, values);

  /** Runs `work` in one transaction on one connection (pg-pool.ts's inTransaction). */
  transaction<T>(work: (query: Query) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    return inTransaction(this.pool, (client) => work(queryOn(client)), begin);
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/** `client`'s statements as a Query. */
function queryOn(client: SqlClient): Query {
  return async (statement, values) => {
    const result =
      typeof statement === 'string'
        ? await client.query<Row>(statement, values as unknown[] | undefined)
        : await client.query<Row>({ name: statement.name, text: statement.text, values: values as unknown[] | undefined });
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  };
}

/**
 * The ledger's one-line error for a database error: what it was doing, where (no password), and
 * what is kept. batchguard's own errors pass through unchanged.
 */
export function databaseFault(error: unknown, location: string, doing: string, kept: string): BatchguardError {
  if (error instanceof BatchguardError) return error;
  // Connecting to a name with several addresses (localhost: ::1 and 127.0.0.1) fails with an
  // AggregateError whose own message is empty.
  const first = error instanceof AggregateError && error.errors.length > 0 ? (error.errors[0] as unknown) : error;
  const { code, message } = first as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message !== '' ? message : String(first);
  const reach = typeof code === 'string' && /^E[A-Z]+$/.test(code) ? ' (is PostgreSQL running there, and the address right?)' : '';
  return new LedgerError('LEDGER_UNUSABLE', `PostgreSQL ledger ${location}: ${doing} failed: ${text}${reach}; ${kept}`, { cause: error });
}
