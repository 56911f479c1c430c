/**
 * The little of node-postgres the worker tables' statements need, as an interface: each of them
 * runs on a pool (a statement of its own) or on one connection inside a transaction alike.
 */
import { sessionEnded } from '../session-ended.js';

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
export interface PooledClient extends SqlClient {
  release(error?: Error | boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/** A pool of connections (`pg.Pool`): queries outside a transaction, and clients for transactions. */
export interface SqlPool extends SqlClient {
  connect(): Promise<PooledClient>;
}

/**
 * Runs `work` in one transaction on a connection of its own. Rolled back when `work` throws; the
 * connection is discarded then (its state after an error mid-protocol is unknown), kept otherwise.
 * When the session ended under the transaction (../session-ended.ts), it throws
 * the server's error that ended it (a SQLSTATE saying why) whichever way it arrived.
 */
export async function inTransaction<T>(pool: SqlPool, work: (client: SqlClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // The pool hears the errors of idle connections only. A session that ends while no statement of
  // ours is in flight (the server's idle-in-transaction timeout, once a process stopped inside a
  // transaction is continued) is an `error` event on this client: unheard, it would be thrown as an
  // uncaught exception.
  let ended: Error | undefined;
  const onError = (error: Error): void => {
    ended ??= error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(true);
    // The statement that failed may know only that the connection is unusable; then the event says why.
    throw ended !== undefined && sessionEnded(error) && typeof (error as { code?: unknown }).code !== 'string' ? ended : error;
  } finally {
    client.off('error', onError);
  }
}

/** A schema name quoted as an identifier. Only plain names are accepted (ConfigError elsewhere: validated by the caller). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
