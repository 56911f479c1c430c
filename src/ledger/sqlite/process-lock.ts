/**
 * An operating-system lock held for the life of a run, on `<ledger>.lock`: SQLite's exclusive lock
 * on a file of its own (Node has no flock). The kernel drops it when the process dies, however it
 * dies and whatever its PID namespace, so a run that gets it knows that no process on this machine
 * holds the ledger any more: a lease left by a crashed run on this host need not be waited out.
 *
 * It only ever shortens a wait. A stopped process keeps its lock, and a holder on another host
 * holds none here: both are taken over when their lease expires. The lease decides, and its token
 * fences whoever is wrong.
 */
import { closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { nativeBinding } from './native-module.js';

/** A lock that proves, when taken, that no other process holds the ledger. */
export interface RunLock {
  readonly held: boolean;
  /** True when held now; false when another holder may be alive. */
  tryTake(): boolean;
  /** True when the lock exists and no process holds it (this one included); takes nothing, creates nothing. */
  heldByNone(): boolean;
  release(): void;
}

export class ProcessLock implements RunLock {
  private db: Database.Database | undefined;

  constructor(private readonly path: string) {}

  get held(): boolean {
    return this.db !== undefined;
  }

  /** Takes the lock if no other process (or connection of this one) holds it; true when held now. */
  tryTake(): boolean {
    if (this.db) return true;
    let db: Database.Database | undefined;
    try {
      closeSync(openSync(this.path, 'a', 0o600));
      db = this.lockedDatabase();
      this.db = db;
      return true;
    } catch {
      // Held elsewhere, or the file cannot be made: either way, no proof that the holder is gone.
      db?.close();
      return false;
    }
  }

  /**
   * Takes the lock for an instant and gives it back (a reader asking whether a run is alive). A
   * run starting in that instant finds it held and waits one poll of its lease (lease.ts) longer.
   */
  heldByNone(): boolean {
    if (this.db || !existsSync(this.path)) return false;
    let db: Database.Database | undefined;
    try {
      db = this.lockedDatabase();
      return true;
    } catch {
      return false;
    } finally {
      db?.close();
    }
  }

  /** The lock file opened and locked (throws when another connection holds it). */
  private lockedDatabase(): Database.Database {
    const db = new Database(this.path, { timeout: 0, fileMustExist: true, nativeBinding: nativeBinding() });
    try {
      // The file holds no data: a journal in memory, not on disk, spares the three fsyncs (journal,
      // folder, journal) that starting the transaction would cost. The lock is the file's all the same.
      db.pragma('journal_mode = MEMORY');
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE');
      return db;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  release(): void {
    this.db?.close();
    this.db = undefined;
  }
}
