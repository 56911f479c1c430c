/**
 * Tells a run lease whose holder died from one whose holder lives, at once, as the SQLite ledger's
 * kernel-released lock file does on one host: the holder keeps a session-level advisory lock
 * (sql/session-lock.ts) on a connection of its own, held out of the pool for the whole run. The
 * server releases it when that session ends: the process died (SIGKILL, a crash, an OOM kill: the
 * kernel closes its socket) or its connection closed. A run that finds the lease in force tries
 * the lock; got, the holder's session is gone and the lease can be taken now instead of at its
 * expiry. Not got, the holder lives, or its session does (a SIGSTOPped process keeps its socket
 * open), and the run waits for the expiry as before.
 *
 * Only liveness rests on this, never safety: the fencing token still guards every write
 * (postgres-lease.ts). A holder whose lock session ended while it lives on (pg_terminate_backend,
 * a server restart, a connection pooler in transaction mode that does not keep sessions) may be
 * taken over early, and then writes nothing more: its token is stale.
 */
import type { PooledClient, SqlPool } from './pg-pool.js';
import { sessionLockSql } from './sql/session-lock.js';

export class HolderSession {
  private client: PooledClient | undefined;
  /** The session being opened, if it is. */
  private connecting: Promise<PooledClient> | undefined;
  private closed = false;
  /** The token whose lock this session holds, if any. */
  private held: number | undefined;

  constructor(
    private readonly pool: SqlPool,
    private readonly schema: string,
  ) {}

  /**
   * Whether the session that holds the lock of `token` has ended: tries that lock, and gives it
   * back at once when got (nobody will ask for an old token's lock again but another prober).
   */
  async holderGone(jobId: number, token: number): Promise<boolean> {
    const client = await this.session();
    const params = [this.schema, jobId, token];
    const got = (await client.query<{ got: boolean }>(sessionLockSql.tryLock, params)).rows[0]?.got === true;
    if (got) await client.query(sessionLockSql.unlock, params);
    return got;
  }

  /**
   * Takes the lock of the lease this run is taking (`token`), before its transaction commits: a
   * run that reads the new lease finds its lock held. Not got only if another session holds this
   * new token's key (a hash collision): then takers wait for the expiry, as without the lock.
   */
  async hold(jobId: number, token: number): Promise<void> {
    await this.unhold(jobId);
    const client = await this.session();
    const got = (await client.query<{ got: boolean }>(sessionLockSql.tryLock, [this.schema, jobId, token])).rows[0]?.got === true;
    if (got) this.held = token;
  }

  /** Gives the lock back (the lease was released, or its taking rolled back); the session stays for the next run. */
  async unhold(jobId: number): Promise<void> {
    const token = this.held;
    if (token === undefined || !this.client) return;
    this.held = undefined;
    await this.client.query(sessionLockSql.unlock, [this.schema, jobId, token]);
  }

  /** Ends the session, which releases any lock it holds; the pool cannot end while it is out. */
  close(): void {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    this.held = undefined;
    // Destroyed, not given back: a connection returned to the pool would keep a lock it holds.
    client?.release(true);
  }

  /**
   * Starts opening the session now, beside the take's transaction, which then does not wait for a
   * connection to be made before it can take the lock (`hold`). A failure is left to the next call.
   */
  open(): void {
    this.session().catch(() => {});
  }

  private session(): Promise<PooledClient> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<PooledClient> {
    const client = await this.pool.connect();
    if (this.closed) {
      // Closed while it connected (the open before a take that failed): out of the pool, it would keep the pool from ending.
      client.release(true);
      throw new Error('the ledger was closed');
    }
    // Out of the pool, its errors are nobody's but ours: a session that ended (the server
    // restarted, pg_terminate_backend) lost its lock; the next call opens a new one.
    client.on('error', () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.held = undefined;
      client.release(true);
    });
    this.client = client;
    return client;
  }
}
