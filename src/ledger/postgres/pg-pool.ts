/**
 * The connections of every PostgreSQL ledger handle, a run's ledger (pg-db.ts) and a worker's
 * (workers/) alike: one pool per handle, made by `openPgPool`, and transactions on it by
 * `inTransaction`. Both sides get the same guarantees from here, and from nowhere else:
 * - The server ends a session idle in its transaction for a lease time. A process stopped inside a
 *   write (SIGSTOP, a frozen VM) holds the row locks of its fence (a run's lease row, a worker's
 *   chunk rows), which a takeover waits for: the lock goes with the lease.
 * - No error of a connection is ever an uncaught exception: the pool hears those of idle
 *   connections (a restarted server: the next query reports the problem), a transaction those of
 *   its own connection (session-ended.ts).
 * - A transaction always ends, COMMIT or ROLLBACK, and gives its connection back; a connection that
 *   could not even roll back (its session ended, its state unknown) is dropped, not reused. A
 *   session that ended under a transaction is its error, the server's SQLSTATE when pg told it.
 */
import type pg from 'pg';
import type { PgModule } from './load-pg.js';
import { watchSession, type ErrorEmitter } from './session-ended.js';

/** A query's result, as `pg` returns it. */
export interface SqlResult<Row> {
  readonly rows: Row[];
  readonly rowCount: number | null;
}

/** A named statement and its values, as `pg` takes them. */
export interface NamedQuery {
  readonly name: string;
  readonly text: string;
  readonly values?: unknown[];
}

/** One connection (`pg.Client`, or a `pg.PoolClient` checked out of a pool). */
export interface SqlClient {
  /** `text` may be a named statement (pg-db.ts's Statement) with its values: parsed and planned once per connection. */
  query<Row = Record<string, unknown>>(text: string | NamedQuery, values?: unknown[]): Promise<SqlResult<Row>>;
}

/** A connection checked out of a pool: given back with `release`, its errors heard while it is out. */
export interface PooledClient extends SqlClient, ErrorEmitter {
  release(error?: Error | boolean): void;
}

/** A pool of connections (`pg.Pool`): queries outside a transaction, and clients for transactions. */
export interface SqlPool extends SqlClient {
  connect(): Promise<PooledClient>;
  end(): Promise<void>;
}

/** What a handle's pool is for. */
export interface PgPoolOptions {
  /** `application_name`, which tells whose sessions are whose in pg_stat_activity. */
  readonly applicationName: string;
  /** The lease time: how long a session may sit idle in its transaction before the server ends it. */
  readonly idleInTransactionMs: number;
  /** Connections at most. */
  readonly max: number;
  /** How long a new connection may take to be ready, in ms (0: for ever); not how long a query waits for a free connection. */
  readonly connectTimeoutMs: number;
}

/** The pool of one ledger handle; connects at its first query. */
export function openPgPool(pgModule: PgModule, config: pg.PoolConfig, options: PgPoolOptions): SqlPool {
  // The time limit goes to each new connection, not to the pool: pg's pool would apply it to a query
  // waiting for a free connection too, which a slow commit beside it may hold for longer.
  const connectionTimeoutMillis = options.connectTimeoutMs;
  class TimedClient extends pgModule.Client {
    constructor(clientConfig?: pg.ClientConfig) {
      super({ ...clientConfig, connectionTimeoutMillis });
    }
  }
  const pool = new pgModule.Pool({
    ...config,
    max: options.max,
    application_name: options.applicationName,
    idle_in_transaction_session_timeout: options.idleInTransactionMs,
    Client: TimedClient,
  });
  pool.on('error', () => {});
  return pool as unknown as SqlPool;
}

/** Runs `work` in one transaction (opened by `begin`) on a connection of its own. */
export async function inTransaction<T>(pool: SqlPool, work: (client: SqlClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  const session = watchSession(client);
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw session.failure(error);
  } finally {
    client.release(broken);
    session.stop();
  }
}
