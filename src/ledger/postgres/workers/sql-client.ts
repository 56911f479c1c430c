/**
 * The little of node-postgres the worker tables' statements need, as an interface: each of them
 * runs on a pool (a statement of its own) or on one connection inside a transaction alike.
 */

/** A query's result, as `pg` returns it. */
export interface SqlResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number | null;
}

/** One connection (`pg.Client`, or a `pg.PoolClient` checked out of a pool). */
export interface SqlClient {
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<SqlResult<Row>>;
}

/** A pool of connections (`pg.Pool`): queries outside a transaction, and clients for transactions. */
export interface SqlPool extends SqlClient {
  connect(): Promise<SqlClient & { release(error?: Error | boolean): void }>;
}

/**
 * Runs `work` in one transaction on a connection of its own. Rolled back when `work` throws; the
 * connection is discarded then (its state after an error mid-protocol is unknown), kept otherwise.
 */
export async function inTransaction<T>(pool: SqlPool, work: (client: SqlClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release(true);
    throw error;
  }
}

/** A schema name quoted as an identifier. Only plain names are accepted (ConfigError elsewhere: validated by the caller). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
