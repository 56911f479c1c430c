/**
 * The memory ledger (`ledger: 'memory'`): for jobs that need record isolation, retries and a
 * summary but no resume. Everything it records is gone when the process ends; no file is created
 * and no run report folder is written (the summary is returned and emitted as usual).
 *
 * It is the SQLite ledger's own code on an in-memory SQLite database, with its key store and lock
 * in memory: one implementation, so the semantics within a process are the file ledger's, proven by
 * the same conformance suite. It needs the better-sqlite3 native module like the file ledger.
 */
import { BatchguardError, LedgerError } from '../../errors.js';
import { DEFAULT_LEASE, type ResolvedLeaseOptions } from '../lease.js';
import type { Ledger } from '../ledger.js';
import { loadNativeModule } from '../sqlite/native-module.js';
import type { RunLock } from '../sqlite/process-lock.js';
import { createSqliteDatabase } from '../sqlite/ledger-parts.js';
import { SqliteLedger } from '../sqlite/sqlite-ledger.js';
import { MemoryKeyBytes, MemoryKeys } from './memory-keys.js';
import type Database from 'better-sqlite3';

/** The shown location of a memory ledger. */
export const MEMORY_LEDGER = 'memory';

/**
 * One memory ledger's storage. Each `open()` is a handle with its own lease owner, as a second
 * process opening a ledger file would be (the conformance suite's take-over tests use two).
 */
export class MemoryLedgerStore {
  private readonly db: Database.Database;
  private readonly keys = new MemoryKeyBytes();
  private readonly lock = new InProcessLock();

  constructor() {
    loadNativeModule();
    try {
      this.db = createSqliteDatabase(':memory:');
    } catch (error) {
      if (error instanceof BatchguardError) throw error;
      throw new LedgerError('LEDGER_UNUSABLE', `cannot create a memory ledger: ${(error as Error).message}`, { cause: error });
    }
  }

  open(lease: ResolvedLeaseOptions = DEFAULT_LEASE): Ledger {
    return new SqliteLedger(this.db, MEMORY_LEDGER, lease, {
      keys: new MemoryKeys(this.keys),
      lock: this.lock,
      file: { check() {} },
      reportsFolder: undefined,
      ownsDatabase: false,
    });
  }

  /** Frees the database; handles must be closed first. */
  close(): void {
    this.db.close();
  }
}

/** A new memory ledger, closed (and forgotten) with its only handle. */
export function openMemoryLedger(lease: ResolvedLeaseOptions = DEFAULT_LEASE): Ledger {
  const store = new MemoryLedgerStore();
  const ledger = store.open(lease);
  const close = ledger.close.bind(ledger);
  ledger.close = async () => {
    await close();
    store.close();
  };
  return ledger;
}

/**
 * Within one process no holder can die without the others knowing, so the lock never proves a
 * holder gone: a take-over waits for the lease to expire or is asked for, as across hosts.
 */
class InProcessLock implements RunLock {
  readonly held = false;
  tryTake(): boolean {
    return false;
  }
  heldByNone(): boolean {
    return false;
  }
  release(): void {}
}
