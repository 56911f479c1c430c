/**
 * A session ended under a transaction, against the real PostgreSQL and node-postgres: every shape
 * in which pg reports it is recognised (sessionEnded), a transaction (the workers' inTransaction,
 * the ledger's PgDb) fails with the error the session ended with and never with an uncaught
 * exception, a fenced write of the worker ledger whose session ended is a lost lease, and the
 * worker ledger's calls that are safe to repeat are tried once more.
 *
 * The server ends a session idle in its transaction past `idle_in_transaction_session_timeout`
 * (set to 100 ms on the session here), or on `pg_terminate_backend`. A process stopped inside a
 * transaction is played by blocking the event loop until the server has ended the session:
 * nothing is read from the socket meanwhile, as with SIGSTOP. Waits are polls, never fixed sleeps.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import { openWorkerLedger } from '../../src/ledger/open-worker-ledger.js';
import { PgDb } from '../../src/ledger/postgres/pg-db.js';
import { sessionEnded } from '../../src/ledger/postgres/session-ended.js';
import { inTransaction, openPgPool, type SqlClient } from '../../src/ledger/postgres/pg-pool.js';
import pg from 'pg';
import { ownSessions } from '../helpers/own-sessions.js';
import { describePg, freshSchema, pgPool, PG_CONFIG, PG_URL } from '../helpers/pg-schema.js';

const PG_PATH = createRequire(import.meta.url).resolve('pg');
/** How long a wait for the server may take on a loaded machine before the test gives up. */
const WITHIN_MS = 30_000;

describePg('a session ended under a transaction', () => {
  const pool = pgPool();

  // An error thrown where nobody listens ends up here; none may.
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown): void => void uncaught.push(error);
  beforeEach(() => {
    uncaught.length = 0;
    process.on('uncaughtException', onUncaught);
  });
  afterEach(() => {
    process.off('uncaughtException', onUncaught);
    expect(uncaught).toEqual([]);
  });

  const backendOf = async (client: SqlClient): Promise<number> =>
    Number((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);

  const alive = async (pid: number): Promise<boolean> =>
    (await pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 1;

  /** Resolves once the server has ended the session `pid` (the event loop runs meanwhile). */
  async function gone(pid: number): Promise<void> {
    const started = Date.now();
    while (await alive(pid)) {
      if (Date.now() - started > WITHIN_MS) throw new Error(`session ${pid} still there after ${WITHIN_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Blocks the event loop, as a stopped process, until the server has ended the sessions `pids`
   * (ending them itself first with `terminate`: an administrator's pg_terminate_backend).
   */
  function frozenUntilGone(pids: readonly number[], terminate = false): void {
    const script = `
      const { default: pg } = await import(${JSON.stringify(PG_PATH)});
      const client = new pg.Client(${JSON.stringify(PG_URL)});
      await client.connect();
      const pids = ${JSON.stringify(pids)};
      if (${terminate}) await client.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
      const started = Date.now();
      while ((await client.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [pids])).rowCount > 0) {
        if (Date.now() - started > ${WITHIN_MS}) process.exit(1);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await client.end();`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script]);
  }

  /** The server's pids of this process's worker ledger connections (../helpers/own-sessions.ts). */
  const ownWorkerSessions = async (): Promise<number[]> =>
    (await ownSessions(pool)).filter((session) => session.applicationName === 'batchguard-worker').map((session) => session.pid);

  /** A transaction whose session the server ends once it sits idle in it for 100 ms. */
  const shortIdle = (client: SqlClient): Promise<unknown> => client.query('SET idle_in_transaction_session_timeout = 100');

  it('ended while no statement was in flight: the transaction fails with 25P03, not with an uncaught error', async () => {
    const failure = await inTransaction(pool, async (client) => {
      await shortIdle(client);
      await gone(await backendOf(client));
      await client.query('SELECT 1');
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: '25P03', message: 'terminating connection due to idle-in-transaction timeout' });
    expect(sessionEnded(failure)).toBe(true);
  });

  it("the ledger's own transactions too (PgDb): 25P03, not an uncaught error", async () => {
    const db = new PgDb(
      openPgPool(pg, PG_CONFIG, { applicationName: 'batchguard', idleInTransactionMs: 60_000, max: 2, connectTimeoutMs: 30_000 }),
      'the test database',
    );
    try {
      const failure = await db
        .transaction(async (query) => {
          const client: SqlClient = { query: async (text, values) => (await query(text, values)) as never };
          await shortIdle(client);
          await gone(await backendOf(client));
          await client.query('SELECT 1');
        })
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: '25P03' });
    } finally {
      await db.end();
    }
  });

  it('ended while stopped with an answer unread: the next statement fails, and the transaction with 25P03', async () => {
    const failure = await inTransaction(pool, async (client) => {
      await shortIdle(client);
      const pid = await backendOf(client);
      const answered = client.query('SELECT 1');
      frozenUntilGone([pid]);
      await answered;
      await client.query('SELECT 2');
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: '25P03' });
  });

  it('ended while stopped between statements: the statement sent on waking fails with 25P03', async () => {
    const failure = await inTransaction(pool, async (client) => {
      await shortIdle(client);
      frozenUntilGone([await backendOf(client)]);
      await client.query('SELECT 1');
    }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: '25P03' });
  });

  it('ended by an administrator while a statement ran: 57P01', async () => {
    const failure = await inTransaction(pool, (client) => client.query('SELECT pg_terminate_backend(pg_backend_pid())')).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: '57P01' });
    expect(sessionEnded(failure)).toBe(true);
  });

  it('the statements waiting when the socket closed, and the ones after: recognised too', async () => {
    const client = await pool.connect();
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    const pid = await backendOf(client);
    const waiting = client.query('SELECT pg_sleep(30)').catch((error: unknown) => error);
    const queued = client.query('SELECT 1').catch((error: unknown) => error);
    await pool.query('SELECT pg_terminate_backend($1)', [pid]);
    const after = await Promise.all([waiting, queued]);
    const next = await client.query('SELECT 2').catch((error: unknown) => error);
    client.release(true);
    expect(after[0]).toMatchObject({ code: '57P01' });
    expect(after[1]).toMatchObject({ message: 'Connection terminated unexpectedly' });
    expect(next).toBeInstanceOf(Error);
    for (const error of [...after, next, ...errors]) expect(sessionEnded(error), String(error)).toBe(true);
  });

  it('a statement that fails on its own is no ended session, and its error passes unchanged', async () => {
    const failure = await inTransaction(pool, (client) => client.query('SELECT * FROM no_such_table_here')).catch(
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: '42P01' });
    expect(sessionEnded(failure)).toBe(false);
  });

  it('a fenced write whose session ended is a lost lease, with the ending as its cause', async () => {
    const schema = freshSchema('bg_session_ended');
    // The worker ledger's connections end a session idle in its transaction for a lease time.
    const workers = openWorkerLedger(PG_URL, { job: 'j', pgSchema: schema, lease: { expireMs: 200, renewEveryMs: 66 } });
    try {
      const { runId } = await workers.joinRun({
        owner: 'a',
        newRunId: 'run-1',
        plan: () => Promise.resolve({ total: 10, chunks: [{ index: 0, from: { seq: 0 }, count: 10 }] }),
      });
      // A lease far longer than the session's idle limit: only the ended session can refuse the write.
      const lease = await workers.leaseChunk(runId, 'a', 60_000);
      const failure = await workers
        .fenced(runId, 'a', [{ chunk: 0, token: lease?.token ?? 0 }], async (writes) => {
          const { rows } = await pool.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE application_name = 'batchguard-worker' AND state = 'idle in transaction' AND position($1 IN query) > 0`,
            [`"${schema}".chunks`],
          );
          for (const { pid } of rows) frozenUntilGone([pid]);
          await writes.writeOutcomes({
            runId,
            succeeded: [{ first: 0, last: 9 }],
            rows: [],
            watermark: undefined,
            seen: 10,
            exhausted: false,
          });
        })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(LedgerError);
      expect(failure).toMatchObject({ code: 'LEDGER_LEASE_LOST', cause: { code: '25P03' } });
      expect(await workers.runState(runId)).toMatchObject({ succeeded: 0 });
    } finally {
      await workers.close();
    }
  });

  it("the worker ledger's calls on connections whose sessions the server ended: a repeatable one is tried once more, the others fail with the ledger's error", async () => {
    const schema = freshSchema('bg_session_ended');
    const workers = openWorkerLedger(PG_URL, { job: 'j', pgSchema: schema });
    try {
      const chunks = [0, 1].map((index) => ({ index, from: { seq: index * 5 }, count: 5 }));
      const { runId } = await workers.joinRun({ owner: 'a', newRunId: 'run-1', plan: () => Promise.resolve({ total: 10, chunks }) });
      // Ended while this process reads none of its sockets (as if stopped): its pool still holds
      // them as idle connections, and hands one to the next call.
      const endIdleSessions = async (): Promise<void> => {
        const pids = await ownWorkerSessions();
        expect(pids.length).toBeGreaterThan(0);
        frozenUntilGone(pids, true);
      };
      await endIdleSessions();
      expect(await workers.runState(runId)).toMatchObject({ status: 'running', chunksOpen: 2 });
      await endIdleSessions();
      expect(await workers.leaseChunk(runId, 'a', 60_000)).toMatchObject({ chunk: { index: 0 }, token: 1 });
      await endIdleSessions();
      const failure = await workers.completeRun(runId).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(LedgerError);
      expect(failure).toMatchObject({ code: 'LEDGER_UNUSABLE', cause: { code: '57P01' } });
      expect((failure as Error).message).toMatch(
        /^PostgreSQL ledger postgres:\/\/.+: completing the shared run failed: terminating connection due to administrator command; what was committed is kept; run it again to rejoin the run$/,
      );
    } finally {
      await workers.close();
    }
  });
});
