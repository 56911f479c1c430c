/**
 * The run lease in the SQLite ledger (policy in ../lease.ts): one row with the holder, its expiry
 * and its fencing token; the last token handed out in `meta`, so tokens grow across releases.
 *
 * The holder renews the row from a timer. Every write of the holder (commit, crash notes, finish)
 * checks the token in its own transaction, so a holder whose lease was taken while it was frozen
 * writes nothing; the key file is written inside the commit's transaction after that check, and a
 * write outside the ledger (the output) first asks `assertHeld()`.
 */
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import type { LedgerError } from '../../errors.js';
import {
  acquireLease,
  decideTake,
  hasMarginLeft,
  Heartbeat,
  lostError,
  newOwner,
  renewLease,
  waitForExpiry,
  type LeaseWaiting,
  type Lease,
  type ResolvedLeaseOptions,
} from '../lease.js';
import type { RunLock } from './process-lock.js';

type Row = Record<string, unknown>;

export const LEASE_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS lease (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  run_id      TEXT NOT NULL,
  owner       TEXT NOT NULL,
  pid         INTEGER NOT NULL,
  host        TEXT NOT NULL,
  token       INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL,
  renewed_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
);
`;

/** Creates the lease table; a lease table of an older batchguard (pid liveness, no token) is replaced. */
export function createLeaseTable(db: Database.Database): void {
  const columns = (db.prepare('PRAGMA table_info(lease)').all() as Row[]).map((c) => c.name);
  if (columns.length > 0 && !columns.includes('token')) db.exec('DROP TABLE lease');
  db.exec(LEASE_SCHEMA_SQL);
}

export class SqliteLease {
  private mine: Lease | undefined;
  private lost: LedgerError | undefined;
  private readonly heartbeat: Heartbeat;
  private readonly who = newOwner();
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly location: string,
    private readonly options: ResolvedLeaseOptions,
    private readonly lock: RunLock,
    private readonly now: () => number = Date.now,
  ) {
    this.heartbeat = new Heartbeat(() => this.renew(), options.renewEveryMs);
    this.statements = {
      read: db.prepare('SELECT * FROM lease WHERE id = 1'),
      write: db.prepare(`INSERT OR REPLACE INTO lease (id, run_id, owner, pid, host, token, acquired_at, renewed_at, expires_at)
        VALUES (1, @runId, @owner, @pid, @host, @token, @acquiredAtMs, @renewedAtMs, @expiresAtMs)`),
      renew: db.prepare('UPDATE lease SET renewed_at = ?, expires_at = ? WHERE id = 1 AND token = ?'),
      release: db.prepare('DELETE FROM lease WHERE id = 1 AND token = ?'),
      lastToken: db.prepare("SELECT value FROM meta WHERE key = 'lease_token'").pluck(),
      setToken: db.prepare(
        "INSERT INTO meta (key, value) VALUES ('lease_token', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
    };
  }

  /** The stored lease, expired or not. */
  read(): Lease | undefined {
    const row = this.statements.read.get() as Row | undefined;
    if (!row) return undefined;
    return {
      runId: String(row.run_id),
      owner: String(row.owner),
      pid: Number(row.pid),
      host: String(row.host),
      token: Number(row.token),
      acquiredAtMs: Number(row.acquired_at),
      renewedAtMs: Number(row.renewed_at),
      expiresAtMs: Number(row.expires_at),
    };
  }

  /** The lease that is in force now (not expired), if any. */
  current(): Lease | undefined {
    const lease = this.read();
    return lease && this.now() < lease.expiresAtMs ? lease : undefined;
  }

  /** Whether `lease`'s holder, another process, is known to be gone: on this host, and its process lock free. */
  holderGone(lease: Lease): boolean {
    return lease.owner !== this.who.owner && lease.host === hostname() && this.lock.heldByNone();
  }

  /**
   * Takes the lease for `runId` and runs `then` in the same transaction, with the lease it replaced
   * (a run that ended without releasing it). A lease in force is waited for until it expires; if
   * its holder renews it meanwhile, the holder is alive and this throws LEDGER_LOCKED. A holder on
   * this host that no longer holds the process lock is dead: its lease is taken at once.
   */
  async acquire<T>(runId: string, takeOver: boolean, then: (previous: Lease | undefined) => T, waiting?: LeaseWaiting): Promise<T> {
    let seen: Lease | undefined;
    for (;;) {
      const holderGone = this.lock.tryTake();
      const attempt = this.db
        .transaction((): { value: T } | { wait: Lease } => {
          const current = this.read();
          const now = this.now();
          const dead = holderGone && current?.host === hostname();
          if (current && !dead && decideTake(current, now, takeOver) === 'wait') return { wait: current };
          const last = Math.max(Number(this.statements.lastToken.get() ?? 0), current?.token ?? 0);
          const lease = acquireLease(runId, this.who, last, now, this.options);
          this.statements.write.run(lease);
          this.statements.setToken.run(String(lease.token));
          const value = then(current);
          this.mine = lease;
          return { value };
        })
        .immediate();
      if ('value' in attempt) {
        this.heartbeat.start();
        return attempt.value;
      }
      seen = await waitForExpiry(attempt.wait, seen, this.now(), this.location, waiting);
    }
  }

  /** Throws LEDGER_LEASE_LOST unless this run still holds the lease. Call inside a write transaction. */
  check(): void {
    if (this.lost) throw this.lost;
    const mine = this.mine;
    if (!mine) throw new Error('the lease is checked before it was taken');
    const current = this.read();
    if (current?.token !== mine.token) {
      this.lost = lostError(this.location, mine, current);
      this.heartbeat.stop();
      throw this.lost;
    }
  }

  /**
   * Before a write outside the ledger's transactions: throws LEDGER_LEASE_LOST unless this run
   * holds the lease, and renews it now when less than one renewal period is left.
   */
  assertHeld(): void {
    this.db.transaction(() => this.checkAndRenew()).immediate();
  }

  /** check(), and a renewal now when less than one renewal period is left. Call inside a write transaction. */
  checkAndRenew(): void {
    this.check();
    const mine = this.mine as Lease;
    if (!hasMarginLeft(mine, this.now(), this.options)) this.renewNow(mine);
  }

  private renewNow(mine: Lease): void {
    const renewed = renewLease(mine, this.now(), this.options);
    this.statements.renew.run(renewed.renewedAtMs, renewed.expiresAtMs, mine.token);
    this.mine = renewed;
  }

  private renew(): void {
    // A run that took over a stopped holder starts without the process lock; it takes it once
    // that process is gone, so that its own crash is then detected at once too.
    if (!this.lock.held) this.lock.tryTake();
    try {
      this.db
        .transaction(() => {
          this.check();
          this.renewNow(this.mine as Lease);
        })
        .immediate();
    } catch {
      // A lost lease is remembered by check() and surfaces at the next commit; a busy or failing
      // disk is retried at the next tick, and the commit reports it if it lasts.
    }
  }

  /** Gives the lease up (inside the finishing transaction); throws LEDGER_LEASE_LOST if it was taken. */
  release(): void {
    this.check();
    this.statements.release.run((this.mine as Lease).token);
    this.heartbeat.stop();
    this.mine = undefined;
  }

  close(): void {
    this.heartbeat.stop();
    this.lock.release();
  }
}
