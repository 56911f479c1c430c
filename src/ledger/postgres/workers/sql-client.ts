/**
 * The little of node-postgres the worker tables' statements need, as an interface: each of them
 * runs on a pool (a statement of its own) or on one connection inside a transaction alike.
 */
import { watchSession, type ErrorEmitter } from '../session-ended.js';

/** A query's result, as `pg` returns it. */
export interface SqlResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number | null;
}

/** One connection (`pg.Client`, or a `pg.PoolClient` checked out of a pool). */
export interface SqlClient {
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<SqlResult<Row>>;
}

/** A connection checked out of a pool: given back with `release`, its errors heard while it is out. */
export interface PooledClient extends SqlClient, ErrorEmitter {
  release(error?: Error | boolean): void;
}

/** A pool of connections (`pg.Pool`): queries outside a transaction, and clients for transactions. */
export interface SqlPool extends SqlClient {
  connect(): Promise<PooledClient>;
}

/**
 * Runs `work` in one transaction on a connection of its own. Rolled back when `work` throws; the
 * connection is discarded then (its state after an error mid-protocol is unknown), kept otherwise.
 * A session that ended under it is its error whichever way pg told it (../session-ended.ts), and
 * never an uncaught exception.
 */
export async function inTransaction<T>(pool: SqlPool, work: (client: SqlClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const session = watchSession(client);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(true);
    throw session.failure(error);
  } finally {
    session.stop();
  }
}

/** A schema name quoted as an identifier. Only plain names are accepted (ConfigError elsewhere: validated by the caller). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
