/** The SQLite ledger passes the conformance suite: each test's ledger is a new file. */
import { join } from 'node:path';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import { withDatabase } from '../helpers/ledger.js';
import { tempDir } from '../helpers/temp.js';
import { describeLedgerConformance } from './ledger-conformance.js';

let path: string | undefined;

describeLedgerConformance(
  'SQLite ledger',
  async ({ lease }) => openSqliteLedgerFile((path ??= join(tempDir(), 'ledger.sqlite')), { lease }),
  async () => {
    // tempDir() removes the folder after the test.
    path = undefined;
  },
  {
    async writeFutureSchema() {
      withDatabase(path as string, (db) => db.prepare("UPDATE meta SET value = '999' WHERE key = 'schema'").run());
    },
  },
);
