/** The memory ledger passes the conformance suite: each test's ledger is one MemoryLedgerStore. */
import type Database from 'better-sqlite3';
import { MemoryLedgerStore } from '../../src/ledger/memory/memory-ledger.js';
import { describeLedgerConformance } from './ledger-conformance.js';

let store: MemoryLedgerStore | undefined;

describeLedgerConformance(
  'memory ledger',
  async ({ lease }) => (store ??= new MemoryLedgerStore()).open(lease),
  async () => {
    store?.close();
    store = undefined;
  },
  {
    async writeFutureSchema() {
      // The store keeps its database to itself; only this test needs to write into it as a newer
      // batchguard would, so it reaches in rather than widening the store's API.
      const db = Reflect.get(store as MemoryLedgerStore, 'db') as Database.Database;
      db.prepare("UPDATE meta SET value = '999' WHERE key = 'schema'").run();
    },
  },
);
