/**
 * The PostgreSQL ledger's connections: a small pool, queries that return plain rows, and
 * transactions that always end (COMMIT, or ROLLBACK on any error) and return their connection.
 *
 * A pool, not one client: the lease's heartbeat must renew while a commit is running, and
 * `rows()` pages are read while the caller may commit. Errors of idle connections (a restarted
 * server) are caught: unhandled, pg would throw them as an uncaught exception; the next query
 * reports the problem instead.
 */
import type pg from 'pg';
import { BatchguardError, LedgerError } from '../../errors.js';
import { watchSession } from './session-ended.js';

export type Row = Record<string, unknown>;

/** Runs one statement: the rows it returned, and how many it changed. */
export type Query = (text: string, values?: readonly unknown[]) => Promise<{ rows: Row[]; rowCount: number }>;

/** Connections at most per ledger handle: commits, the heartbeat, and a reader. */
const POOL_SIZE = 4;

export class PgDb {
  private readonly pool: pg.Pool;

  constructor(
    pgModule: typeof pg,
    config: pg.PoolConfig,
    readonly location: string,
  ) {
    this.pool = new pgModule.Pool({ ...config, max: POOL_SIZE, application_name: 'batchguard' });
    this.pool.on('error', () => {});
  }

  readonly query: Query = async (text, values) => {
    const result = await this.pool.query(text, values as unknown[] | undefined);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  };

  /** Runs `work` in one transaction on one connection. */
  async transaction<T>(work: (query: Query) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    const client = await this.pool.connect();
    // A session that ends under the transaction is its error, never an uncaught one (session-ended.ts).
    const session = watchSession(client);
    let broken: Error | undefined;
    try {
      await client.query(begin);
      const query: Query = async (text, values) => {
        const result = await client.query(text, values as unknown[] | undefined);
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
      };
      const value = await work(query);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw session.failure(error);
    } finally {
      // A connection that could not even roll back is dropped, not reused.
      client.release(broken);
      session.stop();
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
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
