/**
 * The PostgreSQL ledger passes the conformance suite on the real server: each test's ledger is a
 * new schema, dropped after it. (Skipped with a notice without PostgreSQL; failing in CI.)
 */
import { openLedger } from '../../src/ledger/open-ledger.js';
import { describePg, freshSchema, PG_URL, pgPool } from '../helpers/pg-schema.js';
import { describeLedgerConformance } from './ledger-conformance.js';

const pool = pgPool();
let schema: string | undefined;

describePg('PostgreSQL ledger', () => {
  describeLedgerConformance(
    'PostgreSQL ledger',
    async ({ lease }) => openLedger(PG_URL, { job: 'conformance', pgSchema: (schema ??= freshSchema('bg_conformance')), lease }).ledger,
    async () => {
      if (schema !== undefined) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      schema = undefined;
    },
    {
      async writeFutureSchema() {
        await pool.query(`UPDATE "${schema as string}".schema_version SET version = 999`);
      },
    },
  );
});
