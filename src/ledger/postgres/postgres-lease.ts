/**
 * The run lease of the PostgreSQL ledger: the policy of ../lease.ts on the `lease` row of the job
 * (sql/lease.ts says why each statement locks what it locks). The holder renews from a timer; every
 * write transaction of the holder begins with `fence()`, so a holder whose lease was taken while
 * it was frozen writes nothing. The holder also keeps an advisory lock in a session of its own
 * (holder-session.ts), which tells a taker at once that a holder died, rather than at the expiry.
 */
import { LedgerError } from '../../errors.js';
import {
  acquireLease,
  decideTake,
  hasMarginLeft,
  Heartbeat,
  lostError,
  newOwner,
  waitForExpiry,
  type LeaseWaiting,
  type Lease,
  type ResolvedLeaseOptions,
} from '../lease.js';
import { HolderSession } from './holder-session.js';
import type { PgDb, Query, Row } from './pg-db.js';
import { sessionEnded } from './session-ended.js';
import { leaseSql } from './sql/lease.js';

/** The lease row as read, with the database's clock at that moment. */
interface LeaseRead {
  readonly token: number;
  /** The lease in force or expired; undefined when released (or never taken). */
  readonly lease: Lease | undefined;
  readonly nowMs: number;
}

function toLease(row: Row): LeaseRead {
  const token = Number(row.token);
  const nowMs = Number(row.now_ms);
  if (row.owner === null) return { token, lease: undefined, nowMs };
  return {
    token,
    nowMs,
    lease: {
      runId: String(row.run_id),
      owner: String(row.owner),
      pid: Number(row.pid),
      host: String(row.host),
      token,
      acquiredAtMs: Number(row.acquired_at),
      renewedAtMs: Number(row.renewed_at),
      expiresAtMs: Number(row.expires_at),
    },
  };
}

export class PostgresLease {
  private mine: Lease | undefined;
  private lost: LedgerError | undefined;
  private readonly heartbeat: Heartbeat;
  private readonly who = newOwner();
  private readonly sql;
  private readonly session: HolderSession;

  constructor(
    private readonly db: PgDb,
    schema: string,
    private readonly jobId: () => number,
    private readonly options: ResolvedLeaseOptions,
  ) {
    this.sql = leaseSql(schema);
    this.heartbeat = new Heartbeat(() => this.renew(), options.renewEveryMs);
    this.session = new HolderSession(db.pool, schema);
  }

  /** This holder's token, for statements that fence themselves (sql/crash-suspects.ts). */
  get token(): number {
    if (!this.mine) throw new Error('the lease is used before it was taken');
    return this.mine.token;
  }

  /** The lease in force now (not expired, not released), if any. */
  async current(): Promise<Lease | undefined> {
    const { rows } = await this.db.query(this.sql.read, [this.jobId()]);
    const read = rows[0] ? toLease(rows[0]) : undefined;
    return read?.lease && read.nowMs < read.lease.expiresAtMs ? read.lease : undefined;
  }

  /** Whether `lease`'s holder, another process, is known to be gone: the session lock of its token is free. */
  async holderGone(lease: Lease): Promise<boolean> {
    return lease.owner !== this.who.owner && (await this.session.holderGone(this.jobId(), lease.token));
  }

  /**
   * Takes the lease for `runId` and runs `then` in the same transaction, with the lease it replaced
   * (a run that ended without releasing it). A lease in force whose holder's session has ended
   * (holder-session.ts) is taken at once; otherwise it is waited for until it expires, and if its
   * holder renews it meanwhile, the holder is alive and this throws LEDGER_LOCKED.
   */
  async acquire<T>(
    runId: string,
    takeOver: boolean,
    then: (query: Query, previous: Lease | undefined) => Promise<T>,
    waiting?: LeaseWaiting,
  ): Promise<T> {
    let seen: Lease | undefined;
    for (;;) {
      const attempt = await this.db.transaction(async (query): Promise<{ value: T } | { wait: Lease; nowMs: number }> => {
        // Once this transaction has its connection: the lock's session connects beside the statements below.
        this.session.open();
        const { rows } = await query(this.sql.readForTake, [this.jobId()]);
        const read = toLease(rows[0] as Row);
        const current = read.lease;
        if (current && decideTake(current, read.nowMs, takeOver) === 'wait') {
          if (!(await this.session.holderGone(this.jobId(), current.token))) return { wait: current, nowMs: read.nowMs };
        }
        const planned = acquireLease(runId, this.who, read.token, read.nowMs, this.options);
        const taken = await query(this.sql.take, [
          this.jobId(),
          planned.token,
          runId,
          planned.owner,
          planned.pid,
          planned.host,
          this.options.expireMs,
        ]);
        const times = taken.rows[0] as Row;
        const lease: Lease = {
          ...planned,
          acquiredAtMs: Number(times.acquired_at),
          renewedAtMs: Number(times.renewed_at),
          expiresAtMs: Number(times.expires_at),
        };
        this.mine = lease;
        this.lost = undefined;
        try {
          // Before the commit that makes the lease visible: whoever reads it finds its lock held.
          await this.session.hold(this.jobId(), lease.token);
          return { value: await then(query, current) };
        } catch (error) {
          this.mine = undefined;
          await this.session.unhold(this.jobId()).catch(() => {});
          throw error;
        }
      });
      if ('value' in attempt) {
        this.heartbeat.start();
        return attempt.value;
      }
      seen = await waitForExpiry(attempt.wait, seen, attempt.nowMs, this.db.location, waiting);
    }
  }

  /**
   * The first statement of a write transaction: throws LEDGER_LEASE_LOST unless this run still
   * holds the lease. Returns the database's clock.
   */
  async fence(query: Query): Promise<number> {
    if (this.lost) throw this.lost;
    const mine = this.mine;
    if (!mine) throw new Error('the lease is checked before it was taken');
    const { rows } = await query(this.sql.fence, [this.jobId()]);
    const read = toLease(rows[0] as Row);
    if (read.lease?.token !== mine.token) throw this.loseTo(read.lease);
    return read.nowMs;
  }

  /**
   * For a statement that fences itself (sql/lease.ts's fenceClause): this holder's token, or
   * LEDGER_LEASE_LOST when the lease is already known lost.
   */
  tokenToWrite(): number {
    if (this.lost) throw this.lost;
    return this.token;
  }

  /** After a statement that fenced itself: throws LEDGER_LEASE_LOST, naming the new holder, unless it found the lease held. */
  checkFenced(row: Row | undefined): void {
    if (row?.held === true) return;
    throw this.loseTo(row ? toLease(row).lease : undefined);
  }

  /** Records that the lease was lost to `current` (or released by another run), and returns the error. */
  loseTo(current: Lease | undefined): LedgerError {
    this.lost ??= lostError(this.db.location, this.mine as Lease, current);
    this.heartbeat.stop();
    return this.lost;
  }

  /** The error of a self-fencing statement that wrote nothing: why the lease is not ours. */
  async lostNow(): Promise<LedgerError> {
    const { rows } = await this.db.query(this.sql.read, [this.jobId()]);
    return this.loseTo(rows[0] ? toLease(rows[0]).lease : undefined);
  }

  /**
   * After a call whose session ended under it (session-ended.ts), as a process stopped inside a
   * transaction past its lease meets it once continued: the lease-lost error when another run has
   * taken the lease meanwhile, undefined when it is still this run's (or none was held).
   */
  async takenSince(): Promise<LedgerError | undefined> {
    if (this.lost) return this.lost;
    const mine = this.mine;
    if (!mine) return undefined;
    const { rows } = await this.db.query(this.sql.read, [this.jobId()]);
    const current = rows[0] ? toLease(rows[0]).lease : undefined;
    return current?.token === mine.token ? undefined : this.loseTo(current);
  }

  /**
   * Before a write outside the ledger's transactions: throws LEDGER_LEASE_LOST unless this run
   * holds the lease, and renews it now when less than one renewal period is left.
   */
  async assertHeld(): Promise<void> {
    await this.db.transaction(async (query) => {
      const nowMs = await this.fence(query);
      if (!hasMarginLeft(this.mine as Lease, nowMs, this.options)) await this.renewWith(query);
    });
  }

  private async renewWith(query: Query): Promise<void> {
    const mine = this.mine as Lease;
    const { rows } = await query(this.sql.renew, [this.jobId(), mine.token, this.options.expireMs]);
    const row = rows[0];
    if (!row) throw await this.lostNow();
    this.mine = { ...mine, renewedAtMs: Number(row.renewed_at), expiresAtMs: Number(row.expires_at) };
  }

  private renew(): void {
    if (!this.mine || this.lost) return;
    // A lost lease is remembered and surfaces at the next write; an unreachable database is
    // retried at the next tick, and the next commit reports it if it lasts.
    this.renewWith(this.db.query).catch(() => {});
  }

  /**
   * Gives the lease up by `write`, a statement that releases this holder's lease (`token`) and
   * says whether it did (sql/finish.ts); throws LEDGER_LEASE_LOST if it was taken. The lease stays
   * this run's until the statement has returned: if its session ends first (the process was
   * stopped), takenSince must still know the token, to tell a lease taken meanwhile from a database
   * that failed. A statement whose session ended after it committed (its reply lost) released the
   * lease: that is what it did, not a lease lost to another run.
   */
  async release(write: (token: number) => Promise<boolean>): Promise<void> {
    const token = this.tokenToWrite();
    let released: boolean;
    try {
      released = await write(token);
    } catch (error) {
      // Its session ended under it: the statement may have committed before its reply was lost.
      if (!sessionEnded(error) || !(await this.releasedWith(token).catch(() => false))) throw error;
      released = true;
    }
    if (!released) throw await this.lostNow();
    this.heartbeat.stop();
  }

  /**
   * Whether the lease is released with `token`: only this holder's release leaves it so, since a
   * taker's change of the lease changes the token.
   */
  private async releasedWith(token: number): Promise<boolean> {
    const { rows } = await this.db.query(this.sql.read, [this.jobId()]);
    const read = rows[0] ? toLease(rows[0]) : undefined;
    return read !== undefined && read.lease === undefined && read.token === token;
  }

  /** After the release committed: the lock goes too (before it, a taker would find a lease in force and no lock). */
  async released(): Promise<void> {
    this.mine = undefined;
    await this.session.unhold(this.jobId());
  }

  close(): void {
    this.heartbeat.stop();
    this.session.close();
  }
}
