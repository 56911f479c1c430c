/**
 * Whether an error says that the database session under a connection is gone: the server ended it
 * (idle in its transaction past `idle_in_transaction_session_timeout`, `pg_terminate_backend`, a
 * shutdown) or the connection broke. Nothing of an open transaction on it was committed (but for a
 * COMMIT cut off on its way, which may have been), and the connection is of no more use.
 *
 * One place decides it because node-postgres reports one ending in several shapes, depending on
 * what the client was doing when the news came: the server's FATAL error, with its SQLSTATE, to the
 * statement in flight, or as an `error` event when none was; "Connection terminated unexpectedly"
 * to the statements waiting when the socket closed; "…is not queryable" to the ones sent after.
 * A process stopped (SIGSTOP, a frozen VM) inside a transaction meets any of them once continued,
 * depending on where it stopped; all of them are the same fact.
 */

/** SQLSTATEs of a session the server ended. */
const ENDED_BY_SERVER: ReadonlySet<string> = new Set([
  // idle_in_transaction_session_timeout
  '25P03',
  // admin_shutdown: pg_terminate_backend, or a fast shutdown
  '57P01',
  // crash_shutdown: another backend crashed and the server restarts
  '57P02',
  // idle_session_timeout
  '57P05',
]);

/** What node-postgres itself says of a connection that ended, or that it knows to be unusable. */
const ENDED_BY_CLIENT: ReadonlySet<string> = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
]);

/** Socket errors of a connection that was open (a refused connection is no session that ended). */
const BROKEN_SOCKET: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** True when `error`, or an error in its cause chain, says the session under its connection is gone. */
export function sessionEnded(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let current = error; typeof current === 'object' && current !== null && !seen.has(current);) {
    seen.add(current);
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string') {
      // Class 08: connection exception.
      if (ENDED_BY_SERVER.has(code) || code.startsWith('08') || BROKEN_SOCKET.has(code)) return true;
    } else if (typeof message === 'string' && ENDED_BY_CLIENT.has(message)) return true;
    current = cause;
  }
  return false;
}

/** A connection checked out of a pool, as far as its `error` events go (`pg.PoolClient`). */
export interface ErrorEmitter {
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * Hears the `error` events of `client` while it is checked out, until `stop()`. The pool listens
 * to idle connections only: a session that ends while no statement is in flight (the server's
 * idle-in-transaction timeout, once a process stopped inside a transaction is continued) is an
 * event on the checked-out client, which node would throw as an uncaught exception if nobody
 * listened. `failure(error)` is what a transaction that failed with `error` should throw: the
 * server's error that ended the session when `error` only says the connection is unusable.
 */
export function watchSession(client: ErrorEmitter): { failure(error: unknown): unknown; stop(): void } {
  let ended: Error | undefined;
  const onError = (error: Error): void => {
    ended ??= error;
  };
  client.on('error', onError);
  return {
    failure: (error) =>
      ended !== undefined && sessionEnded(error) && typeof (error as { code?: unknown }).code !== 'string' ? ended : error,
    stop: () => client.off('error', onError),
  };
}
