/**
 * Creating and upgrading the ledger's schema: automatic and versioned, with no setup step.
 *
 * Why a transaction-scoped advisory lock: two workers starting together would both see no schema
 * and both run `CREATE SCHEMA IF NOT EXISTS` / `CREATE TABLE`, and PostgreSQL does not make those
 * race-safe (the loser fails with a unique violation on the catalog). The lock, keyed by the
 * schema's name, makes the second wait until the first commits; it then finds the version current
 * and does nothing. It is released at commit, so a crashed migration leaves no lock behind, and
 * a migration is all or nothing (PostgreSQL's DDL is transactional).
 *
 * Why a new schema is created by one message (`createAllSql`): the migration's transaction, its
 * lock, its version checks and each version's tables were eight round trips, and the job's row and
 * its lease row two more transactions, each waiting for its WAL flush: ~10 of the ~30 sequential
 * round trips of a new ledger's first run. Several statements in one simple-protocol message run
 * as one implicit transaction, so the creation is still all or nothing.
 */
import { schemaV1 } from './schema-v1.js';
import { schemaV2 } from './steps.js';

/** The migrations, in order: index i brings the schema from version i to i + 1. */
export const MIGRATIONS: readonly ((schema: string) => string)[] = [schemaV1, schemaV2];

/** The version this code reads and writes. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** The schema's lock, held to its transaction's end; its key is the one earlier batchguards take too. */
export const lockSchemaSql = (s: string): string => `SELECT pg_advisory_xact_lock(hashtextextended('batchguard schema ${s}', 0))`;

/**
 * The schema `quoted` (an identifier as quoted in SQL), created only if it is missing: `CREATE
 * SCHEMA IF NOT EXISTS` checks the right to create schemas in the database before it looks whether
 * the schema exists, so a user given a schema made for it (docs/postgres.md, "Setup") would be
 * refused. No safer against a creation at the same moment than `IF NOT EXISTS`: its callers hold
 * an advisory lock named after the schema.
 */
export const createSchemaIfMissingSql = (quoted: string): string =>
  `DO $$ BEGIN IF to_regnamespace('${quoted}') IS NULL THEN CREATE SCHEMA IF NOT EXISTS ${quoted}; END IF; END $$;`;

/** The version table; `ifMissing` is 'IF NOT EXISTS ' where it may exist already. */
const versionTableSql = (s: string, ifMissing: string): string => `CREATE TABLE ${ifMissing}"${s}".schema_version (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  version  int NOT NULL
);`;

export const createSchemaSql = (s: string): string => `
${createSchemaIfMissingSql(`"${s}"`)}
${versionTableSql(s, 'IF NOT EXISTS ')}
INSERT INTO "${s}".schema_version (version) VALUES (0) ON CONFLICT DO NOTHING;
`;

/**
 * A new schema at the current version and `job`'s rows in it, in one message and one transaction,
 * for a schema that had no ledger a moment ago: the schema lock (lockSchemaSql), the schema, the
 * version table, every migration, the version, the job's row and its lease row; its
 * last statement returns the job's id. It creates its tables without IF NOT EXISTS, so when
 * another opener created the ledger meanwhile (it held the lock first), this fails on an existing
 * table (42P07), changing nothing, and the opener takes the general path. A simple-protocol
 * message has no parameters: the schema name is letters, digits and underscores
 * (postgres-location.ts's checkPgSchema), and the job's name, any text, goes in as hexadecimal
 * digits of its UTF-8 bytes, which no quoting rule of the server's can change.
 */
export const createAllSql = (s: string, job: string): string => `
${lockSchemaSql(s)};
${createSchemaIfMissingSql(`"${s}"`)}
${versionTableSql(s, '')}
${MIGRATIONS.map((migration) => migration(s)).join('')}
INSERT INTO "${s}".schema_version (version) VALUES (${PG_SCHEMA_VERSION});
INSERT INTO "${s}".jobs (name) VALUES (convert_from(decode('${Buffer.from(job, 'utf8').toString('hex')}', 'hex'), 'UTF8'));
INSERT INTO "${s}".lease (job_id) SELECT job_id FROM "${s}".jobs;
SELECT job_id FROM "${s}".jobs;
`;

/** SQLSTATE of a table (or index) that exists already: another opener created the ledger first. */
export const DUPLICATE_TABLE = '42P07';

export const readVersionSql = (s: string): string => `SELECT version FROM "${s}".schema_version`;
export const setVersionSql = (s: string): string => `UPDATE "${s}".schema_version SET version = $1`;

/** Whether the schema has a ledger yet (`$1`: the quoted table name): the fast path of every open takes no lock. */
export const hasVersionTableSql = 'SELECT to_regclass($1) IS NOT NULL AS present';

/**
 * The job's id, its row and its lease row created on first use, in one statement. Two creators at
 * once: the second's INSERT waits for the first's commit and inserts nothing, but its SELECT still
 * reads the snapshot from before that commit and finds no row either, and so creates no lease row;
 * the caller then asks again (a new statement, a new snapshot), and the first creator's lease row
 * is there by then (the same transaction as its job row).
 */
export const jobIdSql = (s: string): string => `
WITH created AS (
  INSERT INTO "${s}".jobs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING job_id
), job AS (
  SELECT job_id FROM created UNION ALL SELECT job_id FROM "${s}".jobs WHERE name = $1
), lease AS (
  INSERT INTO "${s}".lease (job_id) SELECT job_id FROM job ON CONFLICT DO NOTHING
)
SELECT job_id FROM job`;
