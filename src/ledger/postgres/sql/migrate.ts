/**
 * Creating and upgrading the ledger's schema: automatic and versioned, with no setup step.
 *
 * Why a transaction-scoped advisory lock: two workers starting together would both see no schema
 * and both run `CREATE SCHEMA IF NOT EXISTS` / `CREATE TABLE`, and PostgreSQL does not make those
 * race-safe (the loser fails with a unique violation on the catalog). The lock, keyed by the
 * schema's name, makes the second wait until the first commits; it then finds the version current
 * and does nothing. It is released at commit, so a crashed migration leaves no lock behind, and
 * a migration is all or nothing (PostgreSQL's DDL is transactional).
 */
import { schemaV1 } from './schema-v1.js';
import { schemaV2 } from './steps.js';

/** The migrations, in order: index i brings the schema from version i to i + 1. */
export const MIGRATIONS: readonly ((schema: string) => string)[] = [schemaV1, schemaV2];

/** The version this code reads and writes. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

export const lockSchemaSql = "SELECT pg_advisory_xact_lock(hashtextextended('batchguard schema ' || $1, 0))";

export const createSchemaSql = (s: string): string => `
CREATE SCHEMA IF NOT EXISTS "${s}";
CREATE TABLE IF NOT EXISTS "${s}".schema_version (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  version  int NOT NULL
);
INSERT INTO "${s}".schema_version (version) VALUES (0) ON CONFLICT DO NOTHING;
`;

export const readVersionSql = (s: string): string => `SELECT version FROM "${s}".schema_version`;
export const setVersionSql = (s: string): string => `UPDATE "${s}".schema_version SET version = $1`;

/** Whether the schema has a ledger yet (`$1`: the quoted table name): the fast path of every open takes no lock. */
export const hasVersionTableSql = 'SELECT to_regclass($1) IS NOT NULL AS present';

/**
 * The job's id, created on first use. Two creators at once: the second's INSERT waits for the
 * first's commit and inserts nothing, but its SELECT still reads the snapshot from before that
 * commit and finds no row either; the caller then asks again (a new statement, a new snapshot).
 */
export const jobIdSql = (s: string): string => `
WITH created AS (
  INSERT INTO "${s}".jobs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING job_id
)
SELECT job_id FROM created UNION ALL SELECT job_id FROM "${s}".jobs WHERE name = $1`;

export const createLeaseRowSql = (s: string): string => `INSERT INTO "${s}".lease (job_id) VALUES ($1) ON CONFLICT DO NOTHING`;
