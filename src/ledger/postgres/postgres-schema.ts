/**
 * Makes sure the ledger's schema exists at the version this code knows, creating or upgrading it
 * (sql/migrate.ts says why under an advisory lock), and refuses a schema written by a newer
 * batchguard. Returns the job's id, and whether the ledger was created just now.
 */
import { LedgerError } from '../../errors.js';
import type { PgDb, Query, Row } from './pg-db.js';
import type { SqlResult } from './pg-pool.js';
import {
  createAllSql,
  createSchemaSql,
  DUPLICATE_TABLE,
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
    await query(lockSchemaSql(schema));
    await query(createSchemaSql(schema));
    const version = Number((await query(readVersionSql(schema))).rows[0]?.version ?? 0);
    checkVersion(version, schema, db.location);
    for (let at = version; at < PG_SCHEMA_VERSION; at++) await query((MIGRATIONS[at] as (s: string) => string)(schema));
    if (version < PG_SCHEMA_VERSION) await query(setVersionSql(schema), [PG_SCHEMA_VERSION]);
  });
}

/**
 * Creates the whole ledger with `job`'s rows in one message (sql/migrate.ts's createAllSql) and
 * returns the job's id; undefined when another opener created the ledger first, which changed
 * nothing here.
 */
async function createAll(db: PgDb, schema: string, job: string): Promise<number | undefined> {
  try {
    // One result per statement of the message (pg's array), whatever the single-result type says.
    const results = (await db.pool.query(createAllSql(schema, job))) as unknown as SqlResult<Row>[];
    return Number(results[results.length - 1]?.rows[0]?.job_id);
  } catch (error) {
    if ((error as { code?: unknown }).code === DUPLICATE_TABLE) return undefined;
    throw error;
  }
}

/** The job's id, creating its row and its lease row on first use. */
async function jobIdOf(db: PgDb, schema: string, job: string): Promise<number> {
  for (;;) {
    const row = (await db.query(jobIdSql(schema), [job])).rows[0];
    if (row !== undefined) return Number(row.job_id);
  }
}

/** The job's id, and whether this call created the ledger (it then holds nothing but the job's rows). */
export interface PreparedSchema {
  readonly jobId: number;
  readonly created: boolean;
}

/** Creates or upgrades the schema when needed, then returns the job's id (creating the job's rows on first use). */
export async function prepareSchema(db: PgDb, schema: string, job: string): Promise<PreparedSchema> {
  const present = (await db.query(hasVersionTableSql, [`"${schema}".schema_version`])).rows[0]?.present === true;
  const created = present ? undefined : await createAll(db, schema, job);
  if (created !== undefined) return { jobId: created, created: true };
  const version = present ? Number((await db.query(readVersionSql(schema))).rows[0]?.version ?? 0) : 0;
  checkVersion(version, schema, db.location);
  if (version < PG_SCHEMA_VERSION) await migrate(db, schema);
  return { jobId: await jobIdOf(db, schema, job), created: false };
}
