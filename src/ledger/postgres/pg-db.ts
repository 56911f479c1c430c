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

  /** Named statements are sent as such until the server says it does not keep them (`unkept`). */
  private named = true;

  /**
   * A named statement that the server says it does not have, or has already, is sent again
   * unnamed, and so is every later one: between the client and the server a pooler in transaction
   * mode may hand each transaction another server session (PgBouncer before 1.21, or with
   * `max_prepared_statements` 0). The error comes before the statement runs, and the statement is
   * its own transaction (inside one, statements are sent unnamed: see `transaction`), so nothing
   * was written and sending it again is safe.
   */
  readonly query: Query = async (statement, values) => {
    const on = queryOn(this.pool);
    if (typeof statement === 'string' || !this.named) return on(textOf(statement), values);
    try {
      return await on(statement, values);
    } catch (error) {
      if (!unkept(error)) throw error;
      this.named = false;
      return on(statement.text, values);
    }
  };

  /**
   * Runs `work` in one transaction on one connection (pg-pool.ts's inTransaction). Its statements
   * are sent unnamed: a failed one cannot be sent again in the same transaction.
   */
  transaction<T>(work: (query: Query) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    return inTransaction(
      this.pool,
      (client) => {
        const on = queryOn(client);
        return work((statement, values) => on(textOf(statement), values));
      },
      begin,
    );
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/** The statement's text, sent unnamed. */
function textOf(statement: string | Statement): string {
  return typeof statement === 'string' ? statement : statement.text;
}

/** SQLSTATEs of a named statement the server's session does not have (26000), or has already (42P05). */
const UNKEPT: ReadonlySet<string> = new Set(['26000', '42P05']);

function unkept(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && UNKEPT.has(code);
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

/** What pg says when a new connection was not ready within its time limit (pg-pool.ts). */
const CONNECT_TIMED_OUT = new Set(['timeout expired', 'Connection terminated due to connection timeout']);

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
  const reach =
    typeof code === 'string' && /^E[A-Z]+$/.test(code)
      ? ' (is PostgreSQL running there, and the address right?)'
      : CONNECT_TIMED_OUT.has(text)
        ? " (the server took the connection but did not answer within connect_timeout: 30 s, or the URL's ?connect_timeout= or PGCONNECT_TIMEOUT in seconds)"
        : '';
  return new LedgerError('LEDGER_UNUSABLE', `PostgreSQL ledger ${location}: ${doing} failed: ${text}${reach}; ${kept}`, { cause: error });
}
