/**
 * Makes sure the ledger's schema exists at the version this code knows, creating or upgrading it
 * (sql/migrate.ts says why under an advisory lock), and refuses a schema written by a newer
 * batchguard. Returns the job's id.
 */
import { LedgerError } from '../../errors.js';
import type { PgDb, Query } from './pg-db.js';
import {
  createLeaseRowSql,
  createSchemaSql,
  hasVersionTableSql,
  jobIdSql,
  lockSchemaSql,
  MIGRATIONS,
  PG_SCHEMA_VERSION,
  readVersionSql,
  setVersionSql,
} from './sql/migrate.js';

function checkVersion(version: number, schema: string, location: string): void {
  if (version > PG_SCHEMA_VERSION) {
    throw new LedgerError(
      'LEDGER_UNUSABLE',
      `the ledger ${location} (schema ${schema}) has schema ${version}, written by a newer batchguard; this batchguard reads schema ${PG_SCHEMA_VERSION}: upgrade batchguard to use this ledger (nothing was changed in it), or give another schema with --pg-schema`,
    );
  }
}

async function migrate(db: PgDb, schema: string): Promise<void> {
  await db.transaction(async (query: Query) => {
    await query(lockSchemaSql, [schema]);
    await query(createSchemaSql(schema));
    const version = Number((await query(readVersionSql(schema))).rows[0]?.version ?? 0);
    checkVersion(version, schema, db.location);
    for (let at = version; at < PG_SCHEMA_VERSION; at++) await query((MIGRATIONS[at] as (s: string) => string)(schema));
    if (version < PG_SCHEMA_VERSION) await query(setVersionSql(schema), [PG_SCHEMA_VERSION]);
  });
}

/** Creates or upgrades the schema when needed, then returns the job's id (creating the job's rows on first use). */
export async function prepareSchema(db: PgDb, schema: string, job: string): Promise<number> {
  const present = (await db.query(hasVersionTableSql, [`"${schema}".schema_version`])).rows[0]?.present === true;
  const version = present ? Number((await db.query(readVersionSql(schema))).rows[0]?.version ?? 0) : 0;
  checkVersion(version, schema, db.location);
  if (version < PG_SCHEMA_VERSION) await migrate(db, schema);
  for (;;) {
    const row = (await db.query(jobIdSql(schema), [job])).rows[0];
    if (row === undefined) continue;
    const jobId = Number(row.job_id);
    await db.query(createLeaseRowSql(schema), [jobId]);
    return jobId;
  }
}
