/**
 * The SQLite ledger passes the conformance suite with its key index spilling into sorted runs after
 * every two keys, so that every key test also goes through runs, their manifest and their reopening.
 */
import { join } from 'node:path';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import { withDatabase } from '../helpers/ledger.js';
import { tempDir } from '../helpers/temp.js';
import { describeLedgerConformance } from './ledger-conformance.js';

let path: string | undefined;

describeLedgerConformance(
  'SQLite ledger, keys spilled into runs',
  async ({ lease }) => openSqliteLedgerFile((path ??= join(tempDir(), 'ledger.sqlite')), { lease, keySpillKeys: 2 }),
  async () => {
    path = undefined;
  },
  {
    async writeFutureSchema() {
      withDatabase(path as string, (db) => db.prepare("UPDATE meta SET value = '999' WHERE key = 'schema'").run());
    },
  },
);
